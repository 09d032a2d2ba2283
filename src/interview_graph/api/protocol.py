"""The WebSocket wire format: every frame in and out, as pydantic models (protocol version 1).

The transport only moves these.  Frames are JSON text (binary frames are refused).  Client
frames are validated strictly (unknown fields are errors); server events all carry ``seq``:

* persisted events (round_started, message, candidate_input, code_result, warning,
  round_ended, feedback, interview_ended) carry the interview's event-log seq: strictly
  increasing on a connection (with gaps: the log also holds private events), and replayed on
  ``resume``;
* transient events (session, ack, speaker, token, status, error, pong) carry the seq of the
  latest persisted event sent on the connection, stamped when they are sent, so seq never
  decreases on a connection.

``docs/protocol.schema.json`` is generated from these models (``python -m
interview_graph.api.protocol``) and a test keeps it current.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from ..feedback import CandidateFeedback
from ..plans.drafting import MAX_JOB_DESCRIPTION
from ..plans.models import DraftNotes

PROTOCOL_VERSION = 1
MAX_TEXT = 8_000
MAX_CODE = 50_000


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- client → server --------------------------------------------------------------------


class Login(_Frame):
    """First frame of every connection: a JWT (``token``) or, in dev mode, a plain ``user``."""

    type: Literal["login"]
    token: str | None = Field(default=None, max_length=4096)
    user: str | None = Field(default=None, max_length=64)


class Start(_Frame):
    """Start a new interview from a plan id in rounds/, or from a job description.

    With ``job_description`` the server drafts a plan with the interview's engine first;
    exactly one of the two is given.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["plan"]}, {"required": ["job_description"]}]},
    )

    type: Literal["start"]
    plan: str | None = Field(default=None, max_length=64)
    job_description: str | None = Field(default=None, max_length=MAX_JOB_DESCRIPTION)
    mode: Literal["practice", "assessment"] | None = Field(
        default=None,
        description="practice (feedback at the end) or assessment (a thank-you only); "
        "defaults to the plan's mode",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Start:
        if (self.plan is None) == (self.job_description is None):
            raise ValueError("give exactly one of 'plan' and 'job_description'")
        return self


class Resume(_Frame):
    """Reattach to an interview; the server replays every event with seq > ``last_seq``."""

    type: Literal["resume"]
    interview_id: str = Field(max_length=64)
    last_seq: int = Field(default=0, ge=0)


class Message(_Frame):
    """A candidate chat message; ``client_id`` is echoed in the ack."""

    type: Literal["message"]
    text: str = Field(max_length=MAX_TEXT)
    client_id: str | None = Field(default=None, max_length=64)


class Code(_Frame):
    """Code activity: an edit snapshot, a run (visible tests) or a submit (all tests)."""

    type: Literal["code"]
    action: Literal["edit", "run", "submit"]
    code: str = Field(max_length=MAX_CODE)
    language: str = Field(default="python", max_length=20)
    question_id: str | None = Field(default=None, max_length=64)
    client_id: str | None = Field(default=None, max_length=64)


class Integrity(_Frame):
    """A browser integrity signal."""

    type: Literal["integrity"]
    signal: Literal["paste", "tab_hidden", "tab_visible", "blur", "focus"]
    size: int = Field(default=0, ge=0, le=10_000_000)
    duration_ms: int = Field(default=0, ge=0, le=86_400_000)
    client_id: str | None = Field(default=None, max_length=64)


class Control(_Frame):
    """End the interview, or pause it (the panel waits; any input continues)."""

    type: Literal["control"]
    action: Literal["end", "pause"]
    client_id: str | None = Field(default=None, max_length=64)


class Ping(_Frame):
    """Keep-alive; answered with ``pong``."""

    type: Literal["ping"]


ClientFrame = Annotated[
    Login | Start | Resume | Message | Code | Integrity | Control | Ping,
    Field(discriminator="type"),
]
CLIENT = TypeAdapter(ClientFrame)


# --- server → client --------------------------------------------------------------------


class _Event(_Frame):
    seq: int


class PanelistProfile(_Frame):
    """What the candidate may know about a panelist."""

    id: str
    name: str
    title: str


class Session(_Event):
    """Connection state after login, start or resume."""

    type: Literal["session"] = "session"
    protocol: int = PROTOCOL_VERSION
    user: str
    interview_id: str | None = None
    plan: str | None = None
    engine: str | None = Field(
        default=None,
        description="The engine the interview runs on (offline or llm; never auto, which is "
        "resolved when the server starts).",
    )
    plans: list[dict[str, str]] = Field(default_factory=list)
    status: Literal["logged_in", "started", "resumed", "finished"] = Field(
        description="finished: the interview has ended (its interview_ended is stored), also "
        "on a resume right after a server restart."
    )
    drafting: DraftNotes | None = Field(
        default=None,
        exclude_if=lambda v: v is None,  # frames of plans not drafted stay as they were
        description="On a start from a job description: what was recognised in it, the role "
        "family and why, which topics cover which skills and which skills nothing covers.",
    )


class Ack(_Event):
    """A candidate input was persisted; ``input_seq`` is its place in the transcript.

    Like every transient event, ``seq`` is never below what the connection already sent: a
    panel line stored after the input may reach the client before the ack does.
    """

    type: Literal["ack"] = "ack"
    client_id: str | None = None
    input: str
    input_seq: int = Field(default=0, ge=0, description="The input's seq in the event log.")


class RoundStarted(_Event):
    """A round began; its panel's public profiles."""

    type: Literal["round_started"] = "round_started"
    round_id: str
    index: int
    title: str
    description: str
    panel: list[PanelistProfile]


class Speaker(_Event):
    """A panelist starts speaking (message ``message_id``)."""

    type: Literal["speaker"] = "speaker"
    panelist: str
    name: str
    message_id: str


class Token(_Event):
    """A streamed piece of a panelist's message."""

    type: Literal["token"] = "token"
    message_id: str
    panelist: str
    delta: str


class Status(_Event):
    """A transient notice about a reply: ``thinking`` when it has not started after a while.

    Sent once per message, ``thinking_notice_seconds`` after the panel began on it with no
    token yet (a slow or failing model); the message's first token or the message replaces it.
    """

    type: Literal["status"] = "status"
    status: Literal["thinking"]
    panelist: str
    message_id: str


class PanelMessage(_Event):
    """A panelist's complete message."""

    type: Literal["message"] = "message"
    message_id: str
    panelist: str
    name: str
    text: str
    question_id: str | None = None
    question_kind: str | None = Field(
        default=None,
        description="conceptual, coding, system_design or behavioural; the editor is for coding.",
    )
    signature: str | None = Field(default=None, description="A coding question's signature.")
    round_id: str | None = None


class CandidateInput(_Event):
    """The candidate's own input as recorded (for transcripts rebuilt on resume)."""

    type: Literal["candidate_input"] = "candidate_input"
    kind: str
    text: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


class CodeResult(_Event):
    """Results the candidate may see: visible tests only."""

    type: Literal["code_result"] = "code_result"
    question_id: str | None
    status: str
    message: str
    tests: list[dict[str, Any]] = Field(default_factory=list)
    output: str = ""


class Warning_(_Event):
    """A rules warning or a rejected input, meant for the candidate."""

    type: Literal["warning"] = "warning"
    code: str
    message: str


class RoundEnded(_Event):
    """A round ended."""

    type: Literal["round_ended"] = "round_ended"
    round_id: str
    index: int
    title: str


class Feedback(_Event):
    """What the candidate is told at the end (see ``feedback.py``).

    In ``assessment`` mode a thank-you and what happens next; in ``practice`` mode levels in
    words, strengths, things to work on and hints used.  The report never reaches the
    candidate.
    """

    type: Literal["feedback"] = "feedback"
    feedback: CandidateFeedback


class InterviewEnded(_Event):
    """The interview is over."""

    type: Literal["interview_ended"] = "interview_ended"


class Error(_Event):
    """Something the client sent could not be used; ``code`` is stable, ``message`` human."""

    type: Literal["error"] = "error"
    code: Literal[
        "bad_json",
        "unknown_type",
        "invalid_fields",
        "frame_too_large",
        "not_logged_in",
        "already_logged_in",
        "auth_failed",
        "rate_limited",
        "no_interview",
        "not_found",
        "forbidden",
        "interview_finished",
        "unknown_plan",
        "bad_job_description",
        "draft_failed",
        "busy",
        "interview_busy",
        "internal",
    ]
    message: str


class Pong(_Event):
    """Answer to ``ping``."""

    type: Literal["pong"] = "pong"


ServerEvent = Annotated[
    Session
    | Ack
    | RoundStarted
    | Speaker
    | Token
    | Status
    | PanelMessage
    | CandidateInput
    | CodeResult
    | Warning_
    | RoundEnded
    | Feedback
    | InterviewEnded
    | Error
    | Pong,
    Field(discriminator="type"),
]
SERVER = TypeAdapter(ServerEvent)

# Event types stored in the interview's event log (replayed on resume); all others are transient.
PERSISTED = frozenset(
    {
        "round_started",
        "message",
        "candidate_input",
        "code_result",
        "warning",
        "round_ended",
        "feedback",
        "interview_ended",
    }
)

# WebSocket close codes the server uses.
CLOSE_AUTH = 4001
CLOSE_LOGIN_TIMEOUT = 4002
CLOSE_ORIGIN = 4003
CLOSE_TAKEN_OVER = 4004
CLOSE_SLOW_CONSUMER = 4008
CLOSE_ABUSE = 4009


def schema() -> dict[str, Any]:
    """JSON Schema of both directions."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"interview_graph WebSocket protocol v{PROTOCOL_VERSION}",
        "protocol": PROTOCOL_VERSION,
        "client_to_server": CLIENT.json_schema(),
        "server_to_client": SERVER.json_schema(),
        "close_codes": {
            "4001": "authentication failed",
            "4002": "no login in time",
            "4003": "origin not allowed",
            "4004": "taken over by a newer connection",
            "4008": "client too slow to read",
            "4009": "too many bad frames",
        },
    }


if __name__ == "__main__":
    json.dump(schema(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
