"""Prompt scaffolding a model echoes never reaches the candidate, even split across chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from interview_graph.llm.prompts import SpeechFilter, load_prompt, prompt_names, scrub, scrub_speech


def _through(chunks: list[str]) -> list[str]:
    speech = SpeechFilter()
    return [*(speech.feed(c) for c in chunks), speech.flush()]


def test_a_closing_tag_split_across_chunks_is_removed() -> None:
    out = _through(["Good point. </cand", "idate_data> What about", " retries?"])
    assert "".join(out) == "Good point. What about retries?"
    # The first chunk went out at once up to the possible tag; nothing waited longer.
    assert out[0] == "Good point. "


@pytest.mark.parametrize(
    "chunks",
    [
        ["Let's start. (none", " yet: introductions) Tell me about you."],
        ["Let's start. (", "nothing yet) Tell me about you."],
        ["Let's start.<|im_", "end|> Tell me about you."],
        ["Let's start. ‹candidate_data>", " Tell me about you.", "[truncated]"],
        ["## user\n", "Let's start. Tell me about you. (none)"],
    ],
)
def test_placeholders_delimiters_and_template_tokens_are_removed(chunks: list[str]) -> None:
    text = "".join(_through(chunks))
    assert text.replace("\n", " ").strip() in (
        "Let's start. Tell me about you.",
        "Let's start.Tell me about you.",
    )


def test_ordinary_brackets_are_not_held_back() -> None:
    out = _through(["Use a heap (for example", " a binary heap) [or a list] <3"])
    assert out[0] == "Use a heap (for example"
    assert "".join(out) == "Use a heap (for example a binary heap) [or a list] <3"


def test_every_placeholder_text_the_brain_fills_in_is_scrubbed() -> None:
    from interview_graph.llm import brain

    source = open(brain.__file__, encoding="utf-8").read()  # noqa: SIM115
    for placeholder in ("(none yet: introductions)", "(nothing yet)", "(none)"):
        assert placeholder in source  # still the texts the brain uses
        assert scrub(f"Hello {placeholder} there.") == "Hello there."
    # Every delimiter a prompt file names is scrubbed.
    for name in prompt_names():
        prompt = load_prompt(name)
        text = prompt.system.template + prompt.user.template
        if "<candidate_data>" in text:
            assert scrub("a <candidate_data> b </candidate_data> c") == "a b c"


async def test_the_stream_wrapper_closes_its_source() -> None:
    closed = []

    async def speech() -> AsyncIterator[str]:
        try:
            for piece in ["One. </candidate", "_data>Two."]:
                yield piece
        finally:
            closed.append(True)

    stream = scrub_speech(speech())
    got = [await anext(stream)]
    await stream.aclose()  # type: ignore[attr-defined]
    assert got == ["One. "] and closed == [True]
    assert "".join([c async for c in scrub_speech(speech())]) == "One. Two."
