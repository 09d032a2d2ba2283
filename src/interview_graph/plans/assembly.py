"""Building a drafted plan from a selection: rounds, panels, rubrics, knowledge and notes.

Each round is its family's round template (its own title, description and opening, never
prose glued from other plans) holding the chosen topics.  The panel is drawn from the
family's personas whose formats fit the round: whoever can ask each topic first, then
colleagues up to two or three seats (three for senior and staff roles), the more senior
ones first for senior roles.  A persona keeps one id and name across rounds, so the engine
carries their memory of the candidate.  The rubric is exactly the competencies the chosen
topics are scored on, so the report never counts an unassessable competency against the
candidate.
"""

from __future__ import annotations

import hashlib
import re

from .catalogue import SENIORITIES, Catalogue, Family, Persona, RoundTemplate, Seniority
from .matching import GENERAL, Candidate, FamilyChoice, Selection
from .models import (
    Competency,
    Document,
    DraftNotes,
    InterviewPlan,
    Panelist,
    QuestionKind,
    RecognisedSkill,
    Round,
    Rubric,
    Rules,
    SkillCoverage,
    Topic,
    TopicSource,
)
from .skills import REQUIRED_SECTIONS, Found

# Coverage of the required skills' weight under which the notes say the plan is thin.
POOR_COVERAGE = 0.5
_TURNS_PER_TOPIC = 8
MIN_PANEL = 2
_MINUTES = {QuestionKind.CODING: 20, QuestionKind.SYSTEM_DESIGN: 20}


class _People:
    """Seats personas under one id per person across the plan's rounds."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], str] = {}
        self.names: dict[str, str] = {}

    def id_for(self, family: Family, persona: Persona) -> str:
        key = (family.id, persona.id)
        if key not in self.ids:
            new = persona.id
            if self.names.get(new, persona.name) != persona.name:
                new = f"{persona.id}_{family.id}"[:64]  # two families, one id, two people
            self.names[new] = persona.name
            self.ids[key] = new
        return self.ids[key]


def _askers(c: Candidate, family: Family, general: Family | None) -> list[tuple[Family, Persona]]:
    """Who could ask ``c``: its named panelist if on the family, else anyone with the format."""
    out: list[tuple[Family, Persona]] = []
    families = {x.id: x for x in (family, general, c.family) if x is not None}
    for f in families.values():
        named = [p for p in f.personas if p.id == c.topic.panelist and f is c.family]
        fits = [p for p in f.personas if c.topic.format in p.formats and p not in named]
        by_focus = sorted(
            fits, key=lambda p: (-len(set(p.focus) & set(c.topic.competencies)), fits.index(p))
        )
        out += [(f, p) for p in [*named, *by_focus]]
        if out:
            return out
    return [(c.family, c.family.personas[0])] if c.family.personas else []


def _seniority_rank(persona: Persona, level: Seniority) -> int:
    # For a senior candidate, a senior interviewer first; for a junior one it does not matter.
    return 0 if SENIORITIES.index(persona.seniority) >= SENIORITIES.index(level) else 1


def _build_round(
    template: RoundTemplate,
    picked: list[Candidate],
    family: Family,
    general: Family | None,
    level: Seniority,
    people: _People,
) -> Round:
    seats: dict[str, tuple[Family, Persona]] = {}
    asker_of: dict[str, str] = {}
    load: dict[str, int] = {}
    for c in picked:
        options = _askers(c, family, general)
        if not options:
            raise ValueError(f"no persona can ask topic {c.topic.id!r}")
        # Spread the questions: the best-fitting persona not yet asking two of them.
        f, persona = next((o for o in options if load.get(people.id_for(*o), 0) < 2), options[0])
        pid = people.id_for(f, persona)
        seats.setdefault(pid, (f, persona))
        load[pid] = load.get(pid, 0) + 1
        asker_of[c.topic.id] = pid
    formats = set(template.formats)
    wanted = 3 if level in ("senior", "staff") else 2
    colleagues = sorted(
        (p for p in family.personas if formats & set(p.formats)),
        key=lambda p: (_seniority_rank(p, level), family.personas.index(p)),
    )
    for p in colleagues:
        if len(seats) >= wanted:
            break
        seats.setdefault(people.id_for(family, p), (family, p))
    # A round no second persona asks for still gets a second listener: whoever on the
    # family's panel cares most about what the round scores.
    scored_ids = {x for c in picked for x in c.topic.competencies}
    listeners = sorted(
        family.personas, key=lambda p: (-len(set(p.focus) & scored_ids), family.personas.index(p))
    )
    for p in listeners:
        if len(seats) >= MIN_PANEL:
            break
        seats.setdefault(people.id_for(family, p), (family, p))

    competencies: dict[str, Competency] = {}
    for c in picked:
        defined = {x.id: x for x in c.family.competencies}
        for cid in c.topic.competencies:
            competencies.setdefault(cid, defined[cid])
    scored = list(competencies)
    panel = []
    for pid, (_, persona) in seats.items():
        asks = [c for c in picked if asker_of[c.topic.id] == pid]
        focus = [x for x in persona.focus if x in competencies]
        focus = focus or list(dict.fromkeys(x for c in asks for x in c.topic.competencies))
        data = persona.model_dump(exclude={"formats", "seniority"})
        data.update(id=pid, focus=focus or scored[:2])
        panel.append(Panelist.model_validate(data))
    # The lead (who asks the most) speaks first.
    panel.sort(key=lambda p: -load.get(p.id, 0))
    topics = [c.topic.as_topic(asker_of[c.topic.id]) for c in picked]
    minutes = sum(_MINUTES.get(t.kind, 12) for t in topics)
    rules = Rules(
        max_minutes=max(20, minutes),
        max_turns=max(12, _TURNS_PER_TOPIC * len(topics)),
        max_follow_ups=2,
        allowed=["asking clarifying questions", "taking a moment to think before answering"]
        + (["Python standard library"] if template.kind is QuestionKind.CODING else []),
    )
    round_ = Round(
        id=template.id,
        title=template.title,
        kind=template.kind,
        description=template.description,
        opening=template.opening,
        faq=template.faq,
        panel=panel,
        topics=topics,
        rubric=Rubric(competencies=list(competencies.values())),
        rules=rules,
    )
    return round_


def _knowledge(picked: list[Candidate]) -> list[Document]:
    docs: dict[str, Document] = {}
    for c in picked:
        for d in c.family.knowledge:
            if set(d.tags) & set(c.topic.knowledge_tags) and d.id not in docs:
                docs[d.id] = d
    return list(docs.values())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "plan"


def _names(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def notes_for(
    plan_topics: list[tuple[Family, Topic, list[str]]],
    found: list[Found],
    choice: FamilyChoice,
    level: Seniority,
    level_reason: str,
    catalogue: Catalogue,
    engine: str = "offline",
) -> DraftNotes:
    """What drafting did: recognised skills, coverage by topic, what is not covered, and why."""
    related: dict[str, set[str]] = {}
    for s in catalogue.skills.values():
        for r in s.related:
            related.setdefault(s.id, set()).add(r)
            related.setdefault(r, set()).add(s.id)
    covered: list[SkillCoverage] = []
    uncovered: list[str] = []
    got = 0.0
    required_total = required_got = 0.0
    for item in found:
        sid = item.skill.id
        direct = [t.id for _, t, skills in plan_topics if sid in skills]
        near = [t.id for _, t, skills in plan_topics if related.get(sid, set()) & set(skills)]
        share = 1.0 if direct else 0.5 if near else 0.0
        if direct:
            covered.append(SkillCoverage(skill=sid, topics=direct))
        elif near:
            covered.append(SkillCoverage(skill=sid, topics=near, how="related"))
        else:
            uncovered.append(sid)
        got += share * item.weight
        if item.section in REQUIRED_SECTIONS:
            required_total += item.weight
            required_got += share * item.weight
    total = sum(i.weight for i in found)
    warnings: list[str] = []
    names = {i.skill.id: i.skill.name for i in found}
    if not found:
        warnings.append(
            "No skill of the catalogue's taxonomy was recognised in the description; this is "
            f"the standard {choice.family.name} loop, not one fitted to the advert."
        )
    elif required_total and required_got / required_total < POOR_COVERAGE:
        missing = [names[s] for s in uncovered if s in {i.skill.id for i in found if i.required}]
        warnings.append(
            f"Coverage is poor: the topics cover {required_got / required_total:.0%} of what "
            "the description requires; the catalogue has no topic on "
            f"{_names(missing) or 'its main skills'}. Review the plan before using it."
        )
    return DraftNotes(
        engine=engine,
        family=choice.family.id,
        family_name=choice.family.name,
        family_reason=choice.reason,
        seniority=level,
        seniority_reason=level_reason,
        recognised=[
            RecognisedSkill(
                id=i.skill.id,
                name=i.skill.name,
                matched=i.matched,
                section=i.section,
                weight=i.weight,
            )
            for i in found
        ],
        covered=covered,
        uncovered=uncovered,
        coverage=round(got / total, 3) if total else 0.0,
        sources=[
            TopicSource(topic=t.id, family=f.id, skills=skills) for f, t, skills in plan_topics
        ],
        warnings=warnings,
    )


def build_plan(
    *,
    job_description: str,
    role: str,
    choice: FamilyChoice,
    selection: Selection,
    found: list[Found],
    level: Seniority,
    level_reason: str,
    catalogue: Catalogue,
) -> InterviewPlan:
    """The drafted plan for ``selection``, with its drafting notes (validated)."""
    family = choice.family
    general = catalogue.families.get(GENERAL)
    people = _People()
    rounds: list[Round] = []
    plan_topics: list[tuple[Family, Topic, list[str]]] = []
    picked_all: list[Candidate] = []
    for template, picked in selection.rounds:
        round_ = _build_round(template, picked, family, general, level, people)
        rounds.append(round_)
        picked_all += picked
        plan_topics += [
            (c.family, t, list(c.topic.skills)) for c, t in zip(picked, round_.topics, strict=True)
        ]
    notes = notes_for(plan_topics, found, choice, level, level_reason, catalogue)
    covered = [
        next(i.skill.name for i in found if i.skill.id == c.skill)
        for c in notes.covered
        if c.how == "direct"
    ]
    # "Senior Data Engineer" already says its level; "Product Designer" gets it added.
    named = any(w in role.lower() for w in ("junior", "senior", "staff", "lead", "principal"))
    who = role if named else f"{role} ({level} level)"
    summary = f"A {len(rounds)}-round loop for a {who}. {family.summary}"
    if covered:
        summary += f" Drafted for this advert: it assesses {_names(covered)}."
    digest = hashlib.sha256(job_description.strip().encode("utf-8")).hexdigest()[:8]
    return InterviewPlan(
        id=f"draft_{_slug(role)}_{digest}",
        title=f"{role} interview",
        role=role,
        summary=summary,
        rounds=rounds,
        knowledge=_knowledge(picked_all),
        drafting=notes,
    )
