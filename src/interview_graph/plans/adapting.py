"""An LLM planner's draft: grounded on the catalogue topics that match, then checked.

The planner is not asked to invent an interview from nothing.  The offline assembly
(:func:`~.drafting.assemble_plan`) first retrieves the catalogue topics that best cover the
description's skills; the model gets that plan round by round (a whole plan is longer than
a model's reply may be), each round complete with its panel, rubric, key points, follow-ups,
hints, clarifications, misconceptions, snippets and sample answers at three levels, as
material to adapt to the advert, so what comes back can drive self-play and scoring like a
shipped plan.  The rounds must validate and pass the content audit (sample answers in their
coverage bands, hints that do not give answers away, ...); the brain asks for one repair of
the rounds with problems, quoting them, then refuses with them.  The drafting notes are
the retrieval's, restricted to the topics the model kept: the model never gets to claim
coverage it was not shown to have.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .audit import audit_plan
from .models import DraftNotes, InterviewPlan, Round

# The audit's problems quoted back to the model in a repair, at most this many.
MAX_PROBLEMS = 25


def prompt_values(grounding: InterviewPlan, index: int, problems: list[str]) -> dict[str, str]:
    """The planner prompt's values for round ``index`` of the retrieved plan (but the advert)."""
    round_ = grounding.rounds[index]
    notes = grounding.drafting
    lines = [
        f"Interview: {grounding.title} (role: {grounding.role}); round {index + 1} of "
        f"{len(grounding.rounds)}: {round_.title}."
    ]
    if notes is not None:
        names = {s.id: s.name for s in notes.recognised}
        mine = {t.id for t in round_.topics}
        lines.append(f"Role family: {notes.family_name}; level: {notes.seniority}.")
        lines += [
            f"- {names[c.skill]}: topic {', '.join(t for t in c.topics if t in mine)}"
            for c in notes.covered
            if mine & set(c.topics)
        ]
        if notes.uncovered:
            lines.append("No catalogue topic on: " + ", ".join(names[s] for s in notes.uncovered))
    return {
        "context": "\n".join(lines),
        "material": round_.model_dump_json(exclude_defaults=True),
        "problems": repair_text(problems),
    }


def repair_text(problems: list[str]) -> str:
    """The problems of the last draft, for the repair request."""
    if not problems:
        return "none"
    shown = problems[:MAX_PROBLEMS]
    more = len(problems) - len(shown)
    return "\n".join(f"- {p}" for p in shown) + (f"\n- … and {more} more" if more else "")


def check(
    grounding: InterviewPlan, rounds: list[Round]
) -> tuple[InterviewPlan | None, dict[int, list[str]]]:
    """The plan of the adapted ``rounds`` and each round's problems (schema, then audit)."""
    problems: dict[int, list[str]] = {}
    for i, round_ in enumerate(rounds):
        alone = grounding.model_copy(update={"rounds": [round_], "drafting": None})
        found = audit_plan(alone)
        if found:
            problems[i] = found
    try:
        plan = InterviewPlan.model_validate(
            {
                **grounding.model_dump(mode="json", exclude={"drafting"}),
                "rounds": [r.model_dump(mode="json") for r in rounds],
            }
        )
    except ValidationError as exc:
        # Across rounds (one panelist id, two names; a topic id twice): every round is asked.
        text = [e["msg"] for e in exc.errors()]
        for i in range(len(rounds)):
            problems.setdefault(i, []).extend(text)
        return None, problems
    return (plan if not problems else None), problems


def with_notes(plan: InterviewPlan, grounding: InterviewPlan, engine: str) -> InterviewPlan:
    """``plan`` carrying the retrieval's notes, limited to the topics the model kept."""
    notes = grounding.drafting
    if notes is None:
        return plan.model_copy(update={"drafting": None})
    kept = {t.id for r in plan.rounds for t in r.topics}
    covered = []
    uncovered = list(notes.uncovered)
    for c in notes.covered:
        topics = [t for t in c.topics if t in kept]
        if topics:
            covered.append(c.model_copy(update={"topics": topics}))
        else:
            uncovered.append(c.skill)
    data: dict[str, Any] = notes.model_dump()
    data.update(
        engine=engine,
        covered=[c.model_dump() for c in covered],
        uncovered=uncovered,
        sources=[s.model_dump() for s in notes.sources if s.topic in kept],
    )
    if len(kept & {s.topic for s in notes.sources}) < len(kept):
        data["warnings"] = [
            *notes.warnings,
            "The model added topics that are not from the catalogue; their coverage is not "
            "listed here.",
        ]
    return InterviewPlan.model_validate(
        {**plan.model_dump(mode="json"), "drafting": DraftNotes.model_validate(data).model_dump()}
    )
