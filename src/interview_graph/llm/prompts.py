"""Prompt files: ``prompts/<name>.md`` with a ``## system`` and a ``## user`` part.

Placeholders are ``$name`` (:class:`string.Template`).  Rendering is strict both ways: a
placeholder without a value and a value without a placeholder are errors, so a renamed field
cannot silently leave a prompt half-filled.  Files are read once per process.

Candidate text and code never become instructions: they go through :func:`fence`, which wraps
them in a ``<candidate_data>`` block and neutralises anything that could close it early.
"""

from __future__ import annotations

import json
import re
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
