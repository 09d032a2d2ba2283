"""Token usage and estimated cost, summed from the interview's ``llm_usage`` events.

Each model call logs one private event (see :mod:`interview_graph.llm.calls`); turns are
counted by the candidate inputs logged between them, so per-turn figures need no extra state.
Every HTTP attempt is a call, failed ones included (429, 500, a stall cut off by the
deadline), each with its ``outcome``; a truncated or stopped reply counts the tokens it
really used (estimated when the server reported none).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer

from .store import Event


class Tokens(BaseModel):
    """Prompt/completion token counts for a group of calls."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, data: dict[str, Any]) -> None:
        """Count one call."""
        self.calls += 1
        self.prompt_tokens += int(data.get("prompt_tokens", 0))
        self.completion_tokens += int(data.get("completion_tokens", 0))


class TokenUsage(Tokens):
    """An interview's usage: totals, per call (prompt file), per node, per turn, and cost."""

    cost_usd: float = 0.0
    unpriced_calls: int = Field(default=0, description="Calls whose model has no price set.")
    fallbacks: int = Field(default=0, description="Steps decided offline after a model failure.")
    by_outcome: dict[str, int] = Field(
        default_factory=dict,
        description="Calls per outcome: ok, truncated, stopped, rate_limited, server_error, "
        "no_response, failed, deadline.",
    )
    failed_calls: int = Field(default=0, description="Calls that returned no usable reply.")
    estimated_calls: int = Field(
        default=0, description="Calls whose token figures are estimates (none reported)."
    )
    by_call: dict[str, Tokens] = Field(default_factory=dict)
    methods: dict[str, str] = Field(
        default_factory=dict,
        description="Role → how its structured decisions were asked for (json_schema, "
        "json_object, tools or json; see interview_graph.llm.structured).",
    )

    @model_serializer(mode="wrap")
    def _compact(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Outcome figures only when there were calls: reports without any model call (the
        # offline engine's, and the recorded ones tests compare against) keep their shape.
        data: dict[str, Any] = handler(self)
        if not self.by_outcome:
            for key in ("by_outcome", "failed_calls", "estimated_calls"):
                data.pop(key, None)
        if not self.methods:
            data.pop("methods", None)
        return data

    by_node: dict[str, Tokens] = Field(default_factory=dict)
    by_turn: list[Tokens] = Field(
        default_factory=list, description="Index 0: before the first candidate input."
    )


def summarise_usage(events: list[Event]) -> TokenUsage:
    """Sum ``llm_usage`` events; ``candidate_message`` events mark turn boundaries.

    ``llm_method`` events tell which structured-output method served each role.
    """
    usage = TokenUsage()
    by_call: dict[str, Tokens] = defaultdict(Tokens)
    by_node: dict[str, Tokens] = defaultdict(Tokens)
    turns: list[Tokens] = [Tokens()]
    for event in sorted(events, key=lambda e: e.seq):
        if event.kind == "candidate_message":
            turns.append(Tokens())
        elif event.kind == "llm_fallback":
            usage.fallbacks += 1
        elif event.kind == "llm_method":  # logged when a role's method is first used
            data = event.data or {}
            usage.methods[str(data.get("role"))] = str(data.get("method"))
        elif event.kind == "llm_usage":
            data = event.data or {}
            usage.add(data)
            outcome = str(data.get("outcome", "ok"))
            usage.by_outcome[outcome] = usage.by_outcome.get(outcome, 0) + 1
            if outcome not in ("ok", "truncated", "stopped"):
                usage.failed_calls += 1
            if data.get("estimated"):
                usage.estimated_calls += 1
            by_call[str(data.get("call"))].add(data)
            by_node[str(data.get("node"))].add(data)
            turns[-1].add(data)
            cost = data.get("cost_usd")
            if cost is None:
                usage.unpriced_calls += 1
            else:
                usage.cost_usd += float(cost)
    usage.cost_usd = round(usage.cost_usd, 6)
    usage.by_call, usage.by_node, usage.by_turn = dict(by_call), dict(by_node), turns
    return usage
