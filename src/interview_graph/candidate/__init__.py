"""The candidate agent: plays the candidate for self-play, demos, tests and benchmarks."""
