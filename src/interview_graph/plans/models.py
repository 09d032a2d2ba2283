"""Pydantic models of an interview plan: rounds, panels, topics, rubrics and rules.

A plan is authored as YAML under ``rounds/`` and validated by these models.  Cross-field
checks (a follow-up names a key point that exists, a topic's panelist sits on the round's
panel, a rubric covers every competency a topic is scored on) live here so that an invalid
file fails at load time with the path of the offending field, never mid-interview.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Model(BaseModel):
    # Unknown keys are almost always typos in hand-written YAML; reject them loudly.
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuestionKind(StrEnum):
    """What sort of question a topic is; it decides how answers arrive and are analysed."""

    CONCEPTUAL = "conceptual"
    CODING = "coding"
    SYSTEM_DESIGN = "system_design"
    BEHAVIOURAL = "behavioural"


class Level(StrEnum):
    """Candidate levels the sample answers are written for."""

    STRONG = "strong"
    AVERAGE = "average"
    WEAK = "weak"


class Panelist(_Model):
    """An interviewer persona; the same id in several rounds is the same person."""

    id: Ident
    name: Text
    title: Text
    traits: list[Text] = Field(
        min_length=1, description="Personality traits, e.g. warm, sceptical."
    )
    speaking_style: Text
    focus: list[Ident] = Field(
        min_length=1, description="Competency ids this panelist cares about."
    )
    strictness: float = Field(ge=0.0, le=1.0, description="0 lenient … 1 exacting.")
    acknowledgements: list[Text] = Field(
        min_length=2, description="Short lines this persona uses to acknowledge an answer."
    )
    probes: list[Text] = Field(
        min_length=2, description="Lead-ins this persona uses before a follow-up question."
    )
    intro: Text | None = Field(
        default=None,
        description="How this person introduces themselves, in the first person "
        '("I lead the payments platform team."); defaults to name and title.',
    )
    transitions: list[Text] = Field(
        default_factory=list,
        description='Lead-ins this persona uses before a new question ("Let\'s switch gears.").',
    )


class KeyPoint(_Model):
    """Something a good answer covers, with the phrases that show it was covered."""

    id: Ident
    text: Text = Field(description="The point, written as a strong candidate would say it.")
    phrases: list[Text] = Field(
        min_length=1, description="Lower-case phrases/synonyms that evidence it."
    )
    snippets: Snippets | None = Field(
        default=None, description="What a strong, average and weak candidate say about it."
    )
    label: Text | None = Field(
        default=None,
        description='A short third-person name for reports ("counts frequencies in one '
        'pass"); the text is written as the candidate would say it.',
    )
    competency: Ident | None = Field(
        default=None,
        description="The rubric competency this point is evidence for (default: the topic's "
        "first competency).",
    )


class Hint(_Model):
    """One rung of a topic's hint ladder: candidate-visible, a nudge and never the answer."""

    text: Text
    key_point: Ident | None = Field(
        default=None, description="The key point this hint leads towards (lowers its credit)."
    )


class Clarification(_Model):
    """An answer to a question the candidate may ask (about the task, or to the interviewer)."""

    asks: list[Text] = Field(
        min_length=1, description="Phrases of the candidate's question this answers."
    )
    answer: Text


class Misconception(_Model):
    """A typical wrong statement, how to recognise it, and how a panelist challenges it."""

    id: Ident
    text: Text = Field(description="What the wrong answer says (private).")
    phrases: list[Text] = Field(min_length=1, description="Phrases that show it.")
    probe: Text = Field(description="The challenge, asked after quoting the candidate.")
    key_point: Ident = Field(description="The key point it contradicts.")


class FollowUp(_Model):
    """A follow-up question that probes one key point."""

    key_point: Ident
    question: Text


class SampleAnswers(_Model):
    """Answers at three levels, used by the candidate agent."""

    strong: Text
    average: Text
    weak: Text

    def at(self, level: Level) -> str:
        """Return the sample answer for ``level``."""
        return str(getattr(self, level.value))


class Snippets(SampleAnswers):
    """Short answers to one key point at each level, for the candidate agent's follow-ups."""


class CodeTest(_Model):
    """One call of the candidate's function and the value it must return."""

    args: list[object]
    expected: object
    name: str = ""


class ReferenceApproach(_Model):
    """A known way to solve a coding question, recognised by markers in the code."""

    name: Text
    complexity: Text
    markers: list[Text] = Field(
        min_length=1, description="Code fragments typical of this approach."
    )
    code: str = ""


class CodingSpec(_Model):
    """What a coding question needs beyond its text."""

    language: Literal["python"] = "python"
    function_name: Ident
    signature: Text
    visible_tests: list[CodeTest] = Field(min_length=1)
    hidden_tests: list[CodeTest] = Field(min_length=1)
    reference_approaches: list[ReferenceApproach] = Field(min_length=1)
    solutions: SampleAnswers = Field(description="Code the candidate agent submits at each level.")


class Topic(_Model):
    """One question of a round with what a good answer looks like."""

    id: Ident
    kind: QuestionKind
    question: Text
    panelist: Ident | None = Field(
        default=None, description="Who asks it; picked by focus if omitted."
    )
    competencies: list[Ident] = Field(min_length=1)
    key_points: list[KeyPoint] = Field(min_length=2)
    follow_ups: list[FollowUp] = Field(default_factory=list)
    sample_answers: SampleAnswers
    coding: CodingSpec | None = None
    knowledge_tags: list[Ident] = Field(default_factory=list)
    rephrasings: list[Text] = Field(
        default_factory=list, description="The question in other words, for 'can you repeat?'."
    )
    hints: list[Hint] = Field(default_factory=list, description="Graded, mildest first.")
    clarifications: list[Clarification] = Field(default_factory=list)
    misconceptions: list[Misconception] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_links(self) -> Topic:
        ids = [k.id for k in self.key_points]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate key point ids in topic {self.id!r}")
        for i, hint in enumerate(self.hints):
            if hint.key_point is not None and hint.key_point not in ids:
                raise ValueError(
                    f"hints[{i}].key_point {hint.key_point!r} is not a key point of topic "
                    f"{self.id!r} (known: {', '.join(ids)})"
                )
        for i, kp in enumerate(self.key_points):
            if kp.competency is not None and kp.competency not in self.competencies:
                raise ValueError(
                    f"key_points[{i}].competency {kp.competency!r} is not one of topic "
                    f"{self.id!r}'s competencies ({', '.join(self.competencies)})"
                )
        for i, wrong in enumerate(self.misconceptions):
            if wrong.key_point not in ids:
                raise ValueError(
                    f"misconceptions[{i}].key_point {wrong.key_point!r} is not a key point of "
                    f"topic {self.id!r} (known: {', '.join(ids)})"
                )
        for i, follow_up in enumerate(self.follow_ups):
            if follow_up.key_point not in ids:
                raise ValueError(
                    f"follow_ups[{i}].key_point {follow_up.key_point!r} is not a key point of "
                    f"topic {self.id!r} (known: {', '.join(ids)})"
                )
        if self.kind is QuestionKind.CODING and self.coding is None:
            raise ValueError(f"topic {self.id!r} is a coding question but has no 'coding' section")
        return self


class Anchor(_Model):
    """What a score means for one competency."""

    score: int = Field(ge=1, le=5)
    description: Text


class Competency(_Model):
    """A scored competency with anchors for the 1–5 scale."""

    id: Ident
    name: Text
    anchors: list[Anchor] = Field(min_length=5, max_length=5)

    @model_validator(mode="after")
    def _check_scale(self) -> Competency:
        if sorted(a.score for a in self.anchors) != [1, 2, 3, 4, 5]:
            raise ValueError(f"competency {self.id!r} needs exactly one anchor for each score 1..5")
        return self


class Rubric(_Model):
    """The competencies a round is scored on."""

    version: Text = "1"
    competencies: list[Competency] = Field(min_length=1)


class Rules(_Model):
    """Budgets and allowances of a round."""

    max_minutes: int = Field(default=45, ge=1)
    max_turns: int = Field(default=30, ge=2, description="Candidate inputs the round may take.")
    max_follow_ups: int = Field(default=2, ge=0, description="Follow-ups per topic.")
    allowed: list[Text] = Field(default_factory=list, description="What the candidate may use.")
    forbidden: list[Text] = Field(default_factory=list)


class Round(_Model):
    """One round: its panel, questions, rubric and rules."""

    id: Ident
    title: Text
    kind: QuestionKind
    description: Text
    opening: Text | None = Field(
        default=None,
        description="What the lead says about the round's format, to the candidate "
        '("We\'ll work through two short exercises..."); the description is for reviewers.',
    )
    faq: list[Clarification] = Field(
        default_factory=list, description="Answers to questions about the round or the team."
    )
    panel: list[Panelist] = Field(min_length=1, max_length=4)
    topics: list[Topic] = Field(min_length=1)
    rubric: Rubric
    rules: Rules = Field(default_factory=Rules)

    @model_validator(mode="after")
    def _check_links(self) -> Round:
        panel_ids = {p.id for p in self.panel}
        competency_ids = {c.id for c in self.rubric.competencies}
        if len(panel_ids) != len(self.panel):
            raise ValueError(f"round {self.id!r} seats the same panelist twice")
        topic_ids = [t.id for t in self.topics]
        if len(set(topic_ids)) != len(topic_ids):
            raise ValueError(f"round {self.id!r} has duplicate topic ids")
        for i, topic in enumerate(self.topics):
            if topic.panelist is not None and topic.panelist not in panel_ids:
                raise ValueError(
                    f"topics[{i}].panelist {topic.panelist!r} does not sit on round {self.id!r}'s "
                    f"panel (panel: {', '.join(sorted(panel_ids))})"
                )
            missing = [c for c in topic.competencies if c not in competency_ids]
            if missing:
                raise ValueError(
                    f"topics[{i}].competencies {missing} are not in round {self.id!r}'s rubric"
                )
        for i, panelist in enumerate(self.panel):
            unknown = [c for c in panelist.focus if c not in competency_ids]
            if unknown:
                raise ValueError(
                    f"panel[{i}].focus {unknown} are not in round {self.id!r}'s rubric"
                )
        return self

    def panelist(self, panelist_id: str) -> Panelist:
        """Return the panelist with ``panelist_id``."""
        return next(p for p in self.panel if p.id == panelist_id)

    def topic(self, topic_id: str) -> Topic:
        """Return the topic with ``topic_id``."""
        return next(t for t in self.topics if t.id == topic_id)


class Document(_Model):
    """A knowledge-base entry panelists may retrieve while preparing a question."""

    id: Ident
    title: Text
    tags: list[Ident] = Field(default_factory=list)
    text: Text


class RecognisedSkill(_Model):
    """A taxonomy skill a job description names, with the words that named it."""

    id: Ident
    name: Text
    matched: list[Text] = Field(
        min_length=1, description="The exact spans of the description that matched it."
    )
    section: Literal["title", "required", "responsibilities", "other", "nice_to_have", "about"] = (
        Field(description="The most demanding part of the description that names it.")
    )
    weight: float = Field(ge=0.0, description="How much the plan should care about it.")


class SkillCoverage(_Model):
    """Which of the plan's topics assess a recognised skill."""

    skill: Ident
    topics: list[Ident] = Field(min_length=1)
    how: Literal["direct", "related"] = Field(
        default="direct", description="related: the topics assess a closely related skill."
    )


class TopicSource(_Model):
    """Where a drafted topic comes from and what it assesses."""

    topic: Ident
    family: Ident
    skills: list[Ident] = Field(default_factory=list)


class DraftNotes(_Model):
    """What drafting a plan from a job description did, so a reader can check it."""

    engine: Text = Field(description="offline, or the LLM engine that adapted the topics.")
    family: Ident = Field(description="The catalogue role family the plan is drafted for.")
    family_name: Text
    family_reason: Text = Field(description="Why this family (title match, skill mass).")
    seniority: Literal["junior", "mid", "senior", "staff"]
    seniority_reason: Text
    recognised: list[RecognisedSkill] = Field(default_factory=list)
    covered: list[SkillCoverage] = Field(default_factory=list)
    uncovered: list[Ident] = Field(
        default_factory=list, description="Recognised skills no topic of the plan assesses."
    )
    coverage: float = Field(
        ge=0.0, le=1.0, description="Share of the recognised skills' weight the plan covers."
    )
    sources: list[TopicSource] = Field(default_factory=list)
    warnings: list[Text] = Field(
        default_factory=list, description="Said plainly, e.g. poor coverage."
    )


class InterviewPlan(_Model):
    """A whole interview: rounds in order plus the knowledge its panel may consult."""

    id: Ident
    title: Text
    role: Text
    version: Text = "1"
    summary: Text
    rounds: list[Round] = Field(min_length=1)
    knowledge: list[Document] = Field(default_factory=list)
    closing: Text = Field(
        default="The team will go through today's notes together, and you'll hear about "
        "next steps from your recruiter within a few days.",
        description="What happens next, said by the panel at the end of the interview.",
    )
    faq: list[Clarification] = Field(
        default_factory=list, description="Answers to questions about the company or process."
    )
    mode: Literal["practice", "assessment"] = Field(
        default="practice",
        description="practice: the candidate gets feedback at the end; assessment: a thank-you "
        "and what happens next, nothing else (overridable when an interview starts).",
    )
    show_scores: bool = Field(
        default=False, description="In practice mode, also show the candidate raw scores."
    )
    drafting: DraftNotes | None = Field(
        default=None, description="How the plan was drafted from a job description (if it was)."
    )

    @model_validator(mode="after")
    def _check_people(self) -> InterviewPlan:
        seen: dict[str, Panelist] = {}
        for r in self.rounds:
            for p in r.panel:
                # The same id must mean the same person: memory is shared across rounds by id.
                if p.id in seen and seen[p.id].name != p.name:
                    raise ValueError(
                        f"panelist id {p.id!r} names two people ({seen[p.id].name!r}, {p.name!r})"
                    )
                seen[p.id] = p
        round_ids = [r.id for r in self.rounds]
        if len(set(round_ids)) != len(round_ids):
            raise ValueError("duplicate round ids")
        if self.drafting is not None:
            # The notes claim which topics cover which skills: they must be this plan's topics.
            topic_ids = {t.id for r in self.rounds for t in r.topics}
            claimed = {t for c in self.drafting.covered for t in c.topics}
            claimed |= {s.topic for s in self.drafting.sources}
            unknown = sorted(claimed - topic_ids)
            if unknown:
                raise ValueError(f"drafting notes name topics the plan does not have: {unknown}")
        return self

    def round(self, round_id: str) -> Round:
        """Return the round with ``round_id``."""
        return next(r for r in self.rounds if r.id == round_id)
