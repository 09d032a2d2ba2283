"""The master agent: the interview graph's supervisor."""
