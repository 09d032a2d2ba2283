"""What a candidate can send into an interview (the value each ``Command(resume=...)`` carries).

Everything here is untrusted: sizes are capped and unknown fields are rejected.  A plain
string is accepted as a chat message for convenience (Studio, the CLI).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_MESSAGE = 8_000
MAX_CODE = 50_000


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MessageInput(_Input):
    """A chat message (an answer, a clarifying question, or silence when empty)."""

    kind: Literal["message"] = "message"
    text: str = Field(default="", max_length=MAX_MESSAGE)


class CodeInput(_Input):
    """Code activity: an edit snapshot, a run, or a submission."""

    kind: Literal["code"] = "code"
    action: Literal["edit", "run", "submit"]
    code: str = Field(max_length=MAX_CODE)
    language: str = Field(default="python", max_length=20)
    question_id: str | None = Field(default=None, max_length=64)


class IntegrityInput(_Input):
    """A browser integrity signal (paste, tab hidden/visible, window blur/focus)."""

    kind: Literal["integrity"] = "integrity"
    signal: Literal["paste", "tab_hidden", "tab_visible", "blur", "focus"]
    size: int = Field(default=0, ge=0, le=10_000_000, description="Characters pasted.")
    duration_ms: int = Field(default=0, ge=0, le=86_400_000, description="How long it lasted.")


class ControlInput(_Input):
    """Control of the interview by the candidate."""

    kind: Literal["control"] = "control"
    action: Literal["end"]


CandidateInput = Annotated[
    MessageInput | CodeInput | IntegrityInput | ControlInput, Field(discriminator="kind")
]
_ADAPTER: TypeAdapter[MessageInput | CodeInput | IntegrityInput | ControlInput] = TypeAdapter(
    CandidateInput
)


def parse_input(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    """Validate a resume value; return ``(input, None)`` or ``(None, error message)``."""
    if isinstance(value, str):
        value = {"kind": "message", "text": value}
    try:
        return _ADAPTER.validate_python(value).model_dump(), None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "input"
        return None, f"{where}: {first['msg']}"


def input_event(inbox: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """The transcript event (kind, text, data) recording a validated input."""
    kind = inbox["kind"]
    text = inbox.get("text", "") if kind == "message" else ""
    data = {k: v for k, v in inbox.items() if k not in ("text", "code")}
    if kind == "code":
        data["lines"] = len(inbox["code"].splitlines())
        if inbox["action"] == "submit":
            data["code"] = inbox["code"]
    return f"candidate_{kind}", text, data
