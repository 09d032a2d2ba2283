"""Small helpers every master node uses: log an event (and stream it), find the current round."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from ..context import Services, interview_id
from ..plans.models import Round
from .state import InterviewState


async def log_event(
    svc: Services,
    runtime: Runtime[Any],
    key: str,
    kind: str,
    *,
    public: bool,
    round_id: str | None = None,
    speaker: str | None = None,
    text: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """Append an event under an idempotent ``key`` and stream it to whoever is watching."""
    event = await svc.log.append(
        interview_id(runtime),
        key,
        kind,
        visibility="public" if public else "private",
        round_id=round_id,
        speaker=speaker,
        text=text,
        data=data,
    )
    runtime.stream_writer({"type": "event", "event": event.model_dump()})


def round_of(svc: Services, state: InterviewState) -> Round:
    """The round the interview is in."""
    return svc.plan.rounds[state.get("round_index", 0)]
