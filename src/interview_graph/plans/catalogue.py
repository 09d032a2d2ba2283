"""The question catalogue: role families, their topics, skills and interviewer personas.

Shipped plans (``rounds/*.yaml``) are whole interviews; the catalogue
(``rounds/catalogue/*.yaml``, one file per role family) is the material a plan is drafted
from when a job description names a role no shipped plan fits.  Each family file holds:

- ``skills``: taxonomy entries (id, name, synonyms a job advert may use, related skills), the
  vocabulary a description is matched with.  A skill listed in several files is one skill
  (their synonyms and links merge); links may point at any file's skills.
- ``competencies``: rubric competencies with their five anchors, which the family's topics are
  scored on and its personas focus on.
- ``personas``: interviewers who would sit on this family's panels, each saying which formats
  they can ask.
- ``rounds``: round templates (title, kind, the formats it holds, a description and the lead's
  opening) written for this family, so a drafted plan never glues other plans' prose.
- ``topics``: full plan topics (everything a shipped plan's topic has) plus the skills they
  assess, their format and the seniorities they suit.

Topics, personas and competencies use the plan models, so a catalogue topic can be dropped
into a drafted plan unchanged and passes the same audit (``python -m
interview_graph.plans.catalogue`` checks every file).
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from .loader import ROUNDS_DIR, PlanError, _dotted, _line_of
from .models import (
    Clarification,
    Competency,
    Document,
    Ident,
    InterviewPlan,
    Panelist,
    QuestionKind,
    Round,
    Rubric,
    Text,
    Topic,
    _Model,
)

log = logging.getLogger(__name__)

CATALOGUE_DIR = ROUNDS_DIR / "catalogue"
Seniority = Literal["junior", "mid", "senior", "staff"]
SENIORITIES: tuple[Seniority, ...] = ("junior", "mid", "senior", "staff")


class Format(StrEnum):
    """The shape of an interview question, finer than :class:`QuestionKind`."""

    CODING = "coding"  # kind coding: editor, tests, reference solutions
    CONCEPTUAL = "conceptual"  # explain / compare / reason about a technical idea
    SYSTEM_DESIGN = "system_design"
    DEBUGGING = "debugging"  # a described failure to diagnose (kind conceptual)
    SQL_EXERCISE = "sql_exercise"  # a query or analysis written out in words (kind conceptual)
    ANALYSIS_CASE = "analysis_case"  # a metrics / data case (kind conceptual)
    BEHAVIOURAL = "behavioural"
    STAKEHOLDER_SCENARIO = "stakeholder_scenario"  # kind behavioural
    PORTFOLIO_WALKTHROUGH = "portfolio_walkthrough"  # kind behavioural
    DESIGN_CRITIQUE = "design_critique"  # kind conceptual
    PRODUCT_CASE = "product_case"  # kind system_design (open-ended design of a product)
    PRIORITISATION = "prioritisation"  # kind conceptual


# The question kinds each format may be authored as.
FORMAT_KINDS: dict[Format, frozenset[QuestionKind]] = {
    Format.CODING: frozenset({QuestionKind.CODING}),
    Format.CONCEPTUAL: frozenset({QuestionKind.CONCEPTUAL}),
    Format.SYSTEM_DESIGN: frozenset({QuestionKind.SYSTEM_DESIGN}),
    Format.DEBUGGING: frozenset({QuestionKind.CONCEPTUAL, QuestionKind.SYSTEM_DESIGN}),
    Format.SQL_EXERCISE: frozenset({QuestionKind.CONCEPTUAL}),
    Format.ANALYSIS_CASE: frozenset({QuestionKind.CONCEPTUAL, QuestionKind.SYSTEM_DESIGN}),
    Format.BEHAVIOURAL: frozenset({QuestionKind.BEHAVIOURAL}),
    Format.STAKEHOLDER_SCENARIO: frozenset({QuestionKind.BEHAVIOURAL}),
    Format.PORTFOLIO_WALKTHROUGH: frozenset({QuestionKind.BEHAVIOURAL}),
    Format.DESIGN_CRITIQUE: frozenset({QuestionKind.CONCEPTUAL}),
    Format.PRODUCT_CASE: frozenset({QuestionKind.SYSTEM_DESIGN, QuestionKind.CONCEPTUAL}),
    Format.PRIORITISATION: frozenset({QuestionKind.CONCEPTUAL, QuestionKind.BEHAVIOURAL}),
}


class Skill(_Model):
    """A taxonomy entry: what a job description may call a skill, and what it is close to."""

    id: Ident
    name: Text
    synonyms: list[Text] = Field(
        default_factory=list,
        description="Other words and phrases for it in job adverts (matched as whole words).",
    )
    related: list[Ident] = Field(
        default_factory=list, description="Skills close to it (a topic on one partly covers it)."
    )


class Persona(Panelist):
    """A catalogue interviewer: a panelist plus the formats they can ask and lead."""

    formats: list[Format] = Field(min_length=1)
    seniority: Seniority = Field(default="senior", description="Their own level.")


class RoundTemplate(_Model):
    """A round this family runs, written for it (its description is the drafted round's)."""

    id: Ident
    title: Text
    kind: QuestionKind
    formats: list[Format] = Field(min_length=1, description="Topic formats the round holds.")
    description: Text
    opening: Text = Field(description="What the lead tells the candidate about the round.")
    faq: list[Clarification] = Field(default_factory=list)
    min_seniority: Seniority = Field(
        default="junior", description="Runs only for roles at or above this level."
    )


class CatalogueTopic(Topic):
    """A plan topic plus what it assesses and for whom."""

    skills: list[Ident] = Field(min_length=1, description="Taxonomy skills it assesses.")
    format: Format
    seniority: list[Seniority] = Field(
        default_factory=lambda: list(SENIORITIES), description="Levels it suits."
    )

    @model_validator(mode="after")
    def _check_format(self) -> CatalogueTopic:
        if self.kind not in FORMAT_KINDS[self.format]:
            allowed = ", ".join(sorted(k.value for k in FORMAT_KINDS[self.format]))
            raise ValueError(f"topic {self.id!r}: format {self.format} needs kind {allowed}")
        return self

    def as_topic(self, panelist: str | None = None) -> Topic:
        """The plain plan topic (catalogue-only fields dropped), asked by ``panelist``."""
        data = self.model_dump(exclude={"skills", "format", "seniority"})
        data["panelist"] = panelist
        return Topic.model_validate(data)


class Family(_Model):
    """One role family's catalogue file."""

    id: Ident
    name: Text
    titles: list[Text] = Field(
        min_length=1, description="Job titles of this family, as adverts write them."
    )
    engineering: bool = Field(description="Whether coding rounds suit this family.")
    summary: Text = Field(description="What the family's interview loop assesses.")
    skills: list[Skill] = Field(default_factory=list)
    competencies: list[Competency] = Field(min_length=1)
    personas: list[Persona] = Field(default_factory=list)
    rounds: list[RoundTemplate] = Field(default_factory=list)
    topics: list[CatalogueTopic] = Field(default_factory=list)
    knowledge: list[Document] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_links(self) -> Family:
        competencies = {c.id for c in self.competencies}
        for kind, ids in (
            ("skill", [s.id for s in self.skills]),
            ("persona", [p.id for p in self.personas]),
            ("topic", [t.id for t in self.topics]),
            ("round", [r.id for r in self.rounds]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind} ids: {', '.join(dupes)}")
        personas = {p.id for p in self.personas}
        for t in self.topics:
            missing = [c for c in t.competencies if c not in competencies]
            if missing:
                raise ValueError(f"topic {t.id!r}: competencies {missing} are not defined here")
            if t.panelist is not None and t.panelist not in personas:
                raise ValueError(f"topic {t.id!r}: panelist {t.panelist!r} is not a persona here")
        for p in self.personas:
            unknown = [c for c in p.focus if c not in competencies]
            if unknown:
                raise ValueError(f"persona {p.id!r}: focus {unknown} are not competencies here")
        return self

    def topic_round(self, topic: CatalogueTopic) -> Round:
        """A one-topic round around ``topic``, for validating and auditing it like a plan's."""
        persona = next((p for p in self.personas if p.id == topic.panelist), None)
        if persona is None:
            persona = next(
                (p for p in self.personas if topic.format in p.formats),
                self.personas[0] if self.personas else None,
            )
        if persona is None:
            raise ValueError(f"family {self.id!r} has no personas to ask topic {topic.id!r}")
        panelist = Panelist.model_validate(persona.model_dump(exclude={"formats", "seniority"}))
        return Round(
            id=f"{self.id}-{topic.id}",
            title=topic.id,
            kind=topic.kind,
            description=self.summary,
            opening=self.summary,
            panel=[panelist],
            topics=[topic.as_topic(panelist.id if topic.panelist else None)],
            rubric=Rubric(competencies=self.competencies),
        )


class Catalogue:
    """Every family, with the merged skill taxonomy."""

    def __init__(self, families: list[Family]) -> None:
        self.families = {f.id: f for f in families}
        # A skill several families need (sql, python, kubernetes) may be listed in each of
        # their files; the entries merge, so no file has to own another family's vocabulary.
        self.skills: dict[str, Skill] = {}
        self.skill_families: dict[str, list[str]] = {}
        for f in families:
            for s in f.skills:
                known = self.skills.get(s.id)
                if known is not None:
                    s = known.model_copy(
                        update={
                            "synonyms": list(dict.fromkeys([*known.synonyms, *s.synonyms])),
                            "related": list(dict.fromkeys([*known.related, *s.related])),
                        }
                    )
                self.skills[s.id] = s
                self.skill_families.setdefault(s.id, []).append(f.id)

    def topics(self) -> list[tuple[Family, CatalogueTopic]]:
        """Every topic with its family."""
        return [(f, t) for f in self.families.values() for t in f.topics]

    def problems(self) -> list[str]:
        """Cross-file problems: dangling skill links and topic ids used twice."""
        out: list[str] = []
        for f in self.families.values():
            for s in f.skills:
                out += [
                    f"{f.id}: skill {s.id!r} is related to unknown skill {r!r}"
                    for r in s.related
                    if r not in self.skills
                ]
            for t in f.topics:
                out += [
                    f"{f.id}/{t.id}: unknown skill {s!r}" for s in t.skills if s not in self.skills
                ]
        topic_ids: dict[str, str] = {}
        for f, t in self.topics():
            if t.id in topic_ids:
                out.append(f"topic id {t.id!r} is used in both {topic_ids[t.id]} and {f.id}")
            topic_ids.setdefault(t.id, f.id)
        return out


def load_family(path: Path) -> Family:
    """Read and validate one family file.

    Raises:
        PlanError: the file is missing, is not YAML, or does not validate.
    """
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise PlanError(path, [f"cannot read catalogue file: {exc}"]) from None
    try:
        return Family.model_validate(data)
    except ValidationError as exc:
        root = yaml.compose(text)
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p not in ("function-after",))
            line = _line_of(root, loc)
            where = _dotted(loc) + (f" (line {line})" if line else "")
            problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        raise PlanError(path, problems) from None


def catalogue_files(directory: Path = CATALOGUE_DIR) -> list[Path]:
    """Every family file in ``directory``, sorted by name."""
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


@lru_cache(maxsize=64)
def _family(name: str, mtime_ns: int) -> Family | PlanError:
    try:
        return load_family(Path(name))
    except PlanError as exc:
        return exc


@lru_cache(maxsize=4)
def _cached(directory: str, stamp: tuple[tuple[str, int], ...], skip_broken: bool) -> Catalogue:
    families = []
    for name, mtime in stamp:
        family = _family(name, mtime)
        if isinstance(family, PlanError):
            if not skip_broken:
                raise family
            # One broken file (a family being written) must not stop drafting from the rest.
            log.warning("catalogue: skipping %s", family)
            continue
        families.append(family)
    return Catalogue(families)


def load_catalogue(directory: Path = CATALOGUE_DIR, *, skip_broken: bool = False) -> Catalogue:
    """The catalogue in ``directory`` (cached per file and modification time).

    Raises:
        PlanError: a family file does not validate (unless ``skip_broken``, which logs it).
    """
    files = catalogue_files(directory)
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in files)
    return _cached(str(directory), stamp, skip_broken)


def audit_family(family: Family) -> list[str]:
    """Every content problem in ``family``: each topic audited as a one-topic plan."""
    from .audit import _persona_problems, audit_plan

    problems: list[str] = []
    for p in family.personas:
        problems += _persona_problems(f"{family.id}/{p.id}", p)
    for topic in family.topics:
        try:
            round_ = family.topic_round(topic)
            plan = InterviewPlan(
                id=family.id,
                title=family.name,
                role=family.titles[0],
                summary=family.summary,
                rounds=[round_],
                knowledge=family.knowledge,
            )
        except (ValidationError, ValueError) as exc:
            problems.append(f"{family.id}/{topic.id}: {exc}")
            continue
        # Persona problems were reported once above, not once per topic.
        persona = f"{family.id}/{round_.id}/{round_.panel[0].id}:"
        problems += [p for p in audit_plan(plan) if not p.startswith(persona)]
    return problems


def main(argv: list[str]) -> int:
    """Validate and audit family files (default: all); print problems; return an exit code."""
    paths = [Path(a) for a in argv] or catalogue_files()
    families, failed = [], 0
    for path in paths:
        try:
            family = load_family(path)
        except PlanError as exc:
            print(exc)
            failed += 1
            continue
        families.append(family)
        problems = audit_family(family)
        for p in problems:
            print(p)
        failed += bool(problems)
        verdict = f"{len(problems)} problem(s)" if problems else "OK"
        print(f"{path}: {len(family.topics)} topics, {verdict}")
    if not argv:
        cross = Catalogue(families).problems()
        for p in cross:
            print(p)
        failed += bool(cross)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
