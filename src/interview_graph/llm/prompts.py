"""Prompt files: ``prompts/<name>.md`` with a ``## system`` and a ``## user`` part.

Placeholders are ``$name`` (:class:`string.Template`).  Rendering is strict both ways: a
placeholder without a value and a value without a placeholder are errors, so a renamed field
cannot silently leave a prompt half-filled.  Files are read once per process.

Candidate text and code never become instructions: they go through :func:`fence`, which wraps
them in a ``<candidate_data>`` block and neutralises anything that could close it early.

What a prompt is built from never reaches the candidate: :class:`SpeechFilter` takes the
delimiters, chat-template tokens and placeholder texts (``(none yet)``...) out of speech as it
streams, holding back a piece that could be the start of one until the next chunk settles it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from ..settings import PROJECT_ROOT

PROMPTS_DIR = PROJECT_ROOT / "prompts"
_PART = re.compile(r"^## (system|user)\s*$", re.MULTILINE)
_TAG = re.compile(r"</?\s*candidate_data", re.IGNORECASE)


class PromptError(ValueError):
    """A prompt file is malformed, or was rendered with missing or unknown values."""


@dataclass(frozen=True)
class Prompt:
    """One prompt: its name and the two templates."""

    name: str
    system: Template
    user: Template

    @property
    def placeholders(self) -> set[str]:
        """Every placeholder used by either part."""
        return set(self.system.get_identifiers()) | set(self.user.get_identifiers())

    def render(self, **values: Any) -> tuple[str, str]:
        """Fill both parts; values that are not strings are written as compact JSON.

        Raises:
            PromptError: a placeholder has no value, or a value has no placeholder.
        """
        missing = self.placeholders - values.keys()
        unknown = values.keys() - self.placeholders
        if missing or unknown:
            raise PromptError(
                f"prompt {self.name!r}: missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        text = {k: v if isinstance(v, str) else _json(v) for k, v in values.items()}
        return self.system.substitute(text), self.user.substitute(text)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def fence(text: str, limit: int = 4_000) -> str:
    """Wrap untrusted candidate text as data, bounded to ``limit`` characters."""
    body = _TAG.sub(lambda m: m.group(0).replace("<", "‹"), text[:limit])
    cut = " [truncated]" if len(text) > limit else ""
    return f"<candidate_data>\n{body}{cut}\n</candidate_data>"


# What a small model echoes from its prompt: the fence (also as neutralised by fence()), the
# placeholder texts the brain fills empty fields with, fence()'s cut mark, the prompt files'
# part headings and chat-template special tokens ("<|im_end|>").
_SCAFFOLD = re.compile(
    r"[<‹]\s*/?\s*candidate_data\s*>"
    r"|\((?:none yet[^()\n]{0,40}|nothing yet|none)\)"
    r"|\[truncated\]"
    r"|<\|[a-z_]{1,24}\|>"
    r"|^#{1,3}[ \t]*(?:system|user)\b[ \t]*:?",
    re.IGNORECASE | re.MULTILINE,
)
_LITERALS = (
    "<candidate_data>",
    "</candidate_data>",
    "‹candidate_data>",
    "‹/candidate_data>",
    "(nothing yet)",
    "(none)",
    "[truncated]",
    "## system",
    "## user",
)
_OPENERS = "<‹([#"
_HOLD = 64  # the longest piece held back, waiting for the next chunk


def _could_start(tail: str) -> bool:
    """Whether ``tail`` could be the beginning of a piece of scaffolding."""
    low = tail.lower()
    squeezed = re.sub(r"\s+", "", low)
    if any(lit.replace(" ", "").startswith(squeezed) for lit in _LITERALS):
        return True
    if low.startswith("(none yet"[: len(low)]) or (low.startswith("(none yet") and ")" not in low):
        return True
    return re.fullmatch(r"<\|?[a-z_]{0,24}\|?", low) is not None


def scrub(text: str) -> str:
    """``text`` without prompt scaffolding, and without the double spaces its removal leaves."""
    if not _SCAFFOLD.search(text):
        return text
    return re.sub(r"[ \t]{2,}", " ", _SCAFFOLD.sub("", text)).strip()


class SpeechFilter:
    """Scrubs streamed speech chunk by chunk (see :func:`scrub`).

    A tag can arrive split across chunks (``"</cand"`` + ``"idate_data>"``): the end of a chunk
    that could start one is held back until the next chunk (or :meth:`flush`) settles it, so
    the delay is at most one chunk and only when the text looks like scaffolding.
    """

    def __init__(self) -> None:
        self._held = ""
        self._last = ""  # the last character sent

    def feed(self, chunk: str) -> str:
        """What of ``chunk`` (with anything held before it) can go out now."""
        text = _SCAFFOLD.sub("", self._held + chunk)
        cut = len(text)
        start = max(0, len(text) - _HOLD)
        for i in range(start, len(text)):
            if text[i] in _OPENERS and _could_start(text[i:]):
                cut = i
                break
        out, self._held = text[:cut], text[cut:]
        return self._emit(out)

    def flush(self) -> str:
        """The rest, at the end of the stream."""
        out, self._held = _SCAFFOLD.sub("", self._held), ""
        return self._emit(out)

    def _emit(self, out: str) -> str:
        # A removal between two spaces leaves two: one goes, also across chunks.
        out = re.sub(r"[ \t]{2,}", " ", out)
        if not self._last or self._last in " \t\n":
            out = out.lstrip(" \t") if self._last else out.lstrip()
        if out:
            self._last = out[-1]
        return out


async def scrub_speech(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """``chunks`` through a :class:`SpeechFilter`; closing this closes ``chunks`` too."""
    speech = SpeechFilter()
    try:
        async for chunk in chunks:
            out = speech.feed(chunk)
            if out:
                yield out
        rest = speech.flush()
        if rest:
            yield rest
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def parse_prompt(name: str, text: str) -> Prompt:
    """Split a prompt file into its parts.

    Raises:
        PromptError: the file lacks exactly one ``## system`` followed by one ``## user``.
    """
    heads = [m.group(1) for m in _PART.finditer(text)]
    if heads != ["system", "user"]:
        raise PromptError(f"prompt {name!r}: expected '## system' then '## user', got {heads}")
    # split() keeps the captured heads: [preamble, "system", body, "user", body]
    parts = _PART.split(text)
    system, user = parts[2], parts[4]
    return Prompt(name, Template(system.strip()), Template(user.strip()))


@cache
def load_prompt(name: str, directory: Path = PROMPTS_DIR) -> Prompt:
    """Read ``prompts/<name>.md`` once."""
    path = directory / f"{name}.md"
    try:
        return parse_prompt(name, path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PromptError(f"no prompt file {path}") from None


def prompt_names(directory: Path = PROMPTS_DIR) -> list[str]:
    """Every prompt shipped in ``directory``."""
    return sorted(p.stem for p in directory.glob("*.md") if p.stem != "README")
