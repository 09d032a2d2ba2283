"""Draft an interview plan from a job description.

Two halves.  :func:`draft_plan` is the entry point for the CLI and the WebSocket service: it
checks the job description, hands it with the shipped plans (the *catalogue*) to the
interview's engine (``Brain.draft_plan``) and re-validates whatever comes back against the
plan schema, so an engine can never hand the graph a plan that would fail mid-interview.
:func:`assemble_plan` is what the offline engine answers with: a deterministic assembly of
the catalogue topics that best match the skills the job description names.

Offline matching is retrieval, so it uses SQLite FTS5 (porter stemming, BM25), as the
panelists' knowledge base does: one row per catalogue topic, with a heavily weighted
``skills`` column (knowledge tags, knowledge-base titles, topic and round names, the role)
and lighter columns for the question, the key points and the plan's context.  A word of the
job description is a *recognised skill* when it appears in the ``skills`` column; every other
catalogue word only helps to rank.  Chosen topics keep their question, key points, tests,
panelist and knowledge documents; they are grouped into coding, technical and behavioural
rounds whose panel and rubric are rebuilt from exactly the competencies the topics score, so
the report never counts an unassessable competency against the candidate.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import math
import os
import re
import sqlite3
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .loader import PlanError, parse_plan, plan_files, resolve_plan
from .models import (
    Competency,
    Document,
    InterviewPlan,
    Panelist,
    QuestionKind,
    Round,
    Rubric,
    Rules,
    Topic,
)

if TYPE_CHECKING:
    from ..engine.base import Brain

log = logging.getLogger(__name__)

MAX_JOB_DESCRIPTION = 20_000
MAX_TOPICS_PER_ROUND = 3
MIN_TOPICS_PER_ROUND = 2
# A topic whose score is under this share of the best topic's is not a match, only noise
# from a common word; it can still fill a round its neighbours were chosen for.
RELATIVE_MIN_SCORE = 0.2
# How much a job-description word counts when the catalogue uses it only in prose.
NON_SKILL_WEIGHT = 0.25
# bm25() column weights: skills, question, detail, context.
_WEIGHTS = (4.0, 2.0, 1.0, 0.5)
_DRAFT_PATH = Path("<drafted plan>")
_WORD = re.compile(r"[^\W_]+")

# Stages a drafted loop goes through, each one round; shipped round kinds map onto them.
_STAGE_OF = {
    QuestionKind.CODING: "coding",
    QuestionKind.CONCEPTUAL: "technical",
    QuestionKind.SYSTEM_DESIGN: "technical",
    QuestionKind.BEHAVIOURAL: "behavioural",
}
_STAGE_TITLES = {
    "coding": "Coding",
    "technical": "Technical depth",
    "behavioural": "Behavioural & collaboration",
}
_STAGE_ORDER = ("technical", "coding", "behavioural")

# Words that say nothing about which skills a role needs: English function words and the
# boilerplate every job advert shares.  They are ignored on both sides of the match.
STOPWORDS = frozenset(
    """
    a about above across after all also an and any are as at be been being both but by can
    could did do does doing during each either etc for from had has have having he her here
    his how i if in into is it its itself just may me might more most must my no nor not of
    off on once only or other our ours out over own per same she should so some such than that
    the their them then there these they this those through to too under until up upon us very
    via was we were what when where which while who whom why will with within without would you
    your yours ability able across bachelor bachelors benefit benefits bonus candidate
    candidates company competitive day days degree get go make part re ll ve run take call
    build built scientist scientists develop developer developers engineer
    engineers engineering equivalent excellent experience experienced familiar familiarity
    field full good great hands help hire hiring ideal including job join junior knowledge lead
    level looking master mid new nice office opportunity plus position preferred principal
    proficiency proficient qualifications related remote required requirement requirements
    responsibilities responsible role salary senior skill skills staff strong team teams time
    understanding want well work working world year years
    """.split()
)

# Everyday job-advert vocabulary the catalogue words differently.  Each word adds the catalogue
# words after it (a test checks every one of them is a recognised catalogue skill).
ALIASES: dict[str, str] = {
    "a11y": "accessibility",
    "wcag": "accessibility aria",
    "typescript": "javascript",
    "ts": "javascript",
    "node": "javascript event loop",
    "nodejs": "javascript event loop",
    "react": "reconciliation state management",
    "vue": "reconciliation state management",
    "angular": "state management",
    "svelte": "reconciliation state management",
    "redux": "state management",
    "css": "rendering",
    "html": "rendering accessibility",
    "dom": "rendering",
    "browser": "rendering web",
    "frontend": "web",
    "ux": "accessibility",
    "kafka": "messaging",
    "rabbitmq": "messaging",
    "sqs": "messaging",
    "pubsub": "messaging",
    "queues": "messaging",
    "queue": "messaging",
    "events": "messaging",
    "microservices": "messaging resilience",
    "distributed": "consistency sharding",
    "redis": "caching",
    "memcached": "caching",
    "cdn": "caching",
    "postgres": "sharding consistency",
    "postgresql": "sharding consistency",
    "mysql": "sharding consistency",
    "sql": "sharding consistency",
    "database": "sharding consistency",
    "databases": "sharding consistency",
    "apis": "idempotency retries",
    "api": "idempotency retries",
    "rest": "idempotency retries",
    "grpc": "retries resilience",
    "reliability": "resilience incidents",
    "sre": "incidents postmortems resilience",
    "oncall": "incidents postmortems",
    "scalable": "caching sharding",
    "scale": "caching sharding",
    "algorithms": "data structures complexity",
    "ml": "machine learning overfitting",
    "modelling": "machine learning",
    "modeling": "machine learning",
    "sklearn": "machine learning overfitting",
    "scikit": "machine learning overfitting",
    "pytorch": "machine learning overfitting",
    "tensorflow": "machine learning overfitting",
    "xgboost": "machine learning class imbalance",
    "classification": "classification metrics",
    "experimentation": "ab testing power",
    "experiments": "ab testing power",
    "ab": "ab testing",
    "hypothesis": "p values power",
    "analytics": "product metrics",
    "kpis": "product metrics",
    "kpi": "product metrics",
    "pandas": "data time series",
    "numpy": "data",
    "forecasting": "time series",
    "stakeholders": "stakeholder communication",
    "mentoring": "mentoring",
    "mentor": "mentoring",
}


class DraftError(ValueError):
    """A plan could not be drafted; the message says what was wrong and how to fix it.

    Attributes:
        code: ``bad_job_description`` (the user can fix the text), ``invalid_plan`` (the
            engine's plan did not validate) or ``no_catalogue`` (no valid plan to draft from).
        problems: the individual problems, one line each.
    """

    def __init__(
        self, message: str, *, code: str = "bad_job_description", problems: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.problems = problems or [message]


# --- the catalogue and its index ---------------------------------------------------------


def load_catalogue(rounds_dir: Path) -> list[InterviewPlan]:
    """The plans in ``rounds_dir`` that validate, in file-name order.

    A broken file there must not stop drafting from the others; it is logged and skipped.

    Raises:
        DraftError: there is no valid plan to draft from.
    """
    plans = []
    for path in plan_files(Path(rounds_dir)):
        try:
            plans.append(resolve_plan(path))
        except PlanError as exc:
            log.warning("catalogue: skipping %s", exc)
    if not plans:
        raise DraftError(
            f"no valid interview plan in {rounds_dir} to draft from", code="no_catalogue"
        )
    return plans


@dataclass(frozen=True)
class _Entry:
    """One catalogue topic and where it comes from."""

    plan: InterviewPlan
    round: Round
    topic: Topic
    order: int  # catalogue position: the deterministic tie-break


def _words(*texts: str) -> str:
    # Identifiers and tags split on _ and -, so top_k_frequent indexes as "top k frequent".
    return " ".join(re.sub(r"[_\-]+", " ", t) for t in texts)


def _topic_row(plan: InterviewPlan, round_: Round, topic: Topic) -> tuple[str, str, str, str]:
    docs = [d for d in plan.knowledge if set(d.tags) & set(topic.knowledge_tags)]
    skills = _words(
        *topic.knowledge_tags,
        topic.id,
        *(d.title for d in docs),
        *(tag for d in docs for tag in d.tags),
        round_.title,
        plan.role,
    )
    detail = _words(
        *(k.text for k in topic.key_points),
        *(p for k in topic.key_points for p in k.phrases),
        *(f.question for f in topic.follow_ups),
        *topic.competencies,
    )
    context = _words(plan.title, round_.description, *(c.name for c in round_.rubric.competencies))
    return skills, topic.question, detail, context


class _Index:
    """FTS5 over the catalogue's topics, built per call (a few dozen rows, about a millisecond)."""

    def __init__(self, catalogue: list[InterviewPlan]) -> None:
        self.entries: list[_Entry] = []
        for plan in catalogue:
            for round_ in plan.rounds:
                for topic in round_.topics:
                    self.entries.append(_Entry(plan, round_, topic, len(self.entries)))
        self.db = sqlite3.connect(":memory:")
        tokenize = "tokenize='porter unicode61'"
        self.db.executescript(
            f"""
            CREATE VIRTUAL TABLE topics USING fts5(skills, question, detail, context, {tokenize});
            CREATE VIRTUAL TABLE topic_terms USING fts5vocab(topics, 'col');
            CREATE VIRTUAL TABLE jd USING fts5(text, {tokenize});
            CREATE VIRTUAL TABLE jd_terms USING fts5vocab(jd, 'instance');
            """
        )
        self.db.executemany(
            "INSERT INTO topics (rowid, skills, question, detail, context) VALUES (?, ?, ?, ?, ?)",
            [(i, *_topic_row(e.plan, e.round, e.topic)) for i, e in enumerate(self.entries)],
        )
        self.columns: dict[str, set[str]] = defaultdict(set)
        for term, column in self.db.execute("SELECT term, col FROM topic_terms"):
            self.columns[term].add(column)

    def close(self) -> None:
        self.db.close()

    def terms(self, text: str) -> list[tuple[str, str]]:
        """(stem, surface word) for every word of ``text``, stemmed as the index stems."""
        self.db.execute("DELETE FROM jd")
        self.db.execute("INSERT INTO jd (rowid, text) VALUES (1, ?)", (text,))
        rows = self.db.execute("SELECT term, offset FROM jd_terms ORDER BY offset").fetchall()
        surface = _WORD.findall(text.lower())
        aligned = len(surface) == len(rows)  # FTS5's unicode61 splits words as the regex does
        return [(term, surface[offset] if aligned else term) for term, offset in rows]

    def score(self, word: str) -> dict[int, float]:
        """BM25 of every topic matching ``word`` (higher is better)."""
        query = '"' + word.replace('"', "") + '"'  # a quoted phrase: never FTS5 syntax
        rows = self.db.execute(
            "SELECT rowid, bm25(topics, ?, ?, ?, ?) FROM topics WHERE topics MATCH ?",
            (*_WEIGHTS, query),
        ).fetchall()
        return {int(rowid): -float(rank) for rowid, rank in rows}


@dataclass
class _Match:
    """What the job description asks for, as the catalogue understands it."""

    skills: list[str]  # recognised skills (surface forms), the most telling first
    scores: dict[int, float] = field(default_factory=dict)  # entry index → score


def _expand(job_description: str) -> str:
    words = _WORD.findall(job_description.lower())
    extra = [ALIASES[w] for w in dict.fromkeys(words) if w in ALIASES]
    return job_description + ("\n" + " ".join(extra) if extra else "")


def _match(index: _Index, job_description: str) -> _Match:
    counts: Counter[str] = Counter()
    surfaces: dict[str, str] = {}
    for stem, surface in index.terms(_expand(job_description)):
        if surface in STOPWORDS or stem in STOPWORDS or len(stem) < 2 or stem.isdigit():
            continue
        if stem in index.columns:
            counts[stem] += 1
            surfaces.setdefault(stem, surface)
    scores: dict[int, float] = defaultdict(float)
    weight_of: dict[str, float] = {}
    for stem, count in sorted(counts.items()):
        is_skill = "skills" in index.columns[stem]
        # A skill named five times matters more, not five times more; a word the catalogue
        # only uses in prose ("service", "call") ranks a little but is not a skill.
        weight = (1.0 + math.log(count)) * (1.0 if is_skill else NON_SKILL_WEIGHT)
        for row, value in index.score(surfaces[stem]).items():
            scores[row] += weight * value
            if is_skill:
                weight_of[stem] = weight_of.get(stem, 0.0) + weight * value
    skills = sorted(weight_of, key=lambda s: (-weight_of[s], s))
    return _Match(skills=[surfaces[s] for s in skills], scores=dict(scores))


def extract_skills(job_description: str, catalogue: list[InterviewPlan]) -> list[str]:
    """The words of ``job_description`` the catalogue recognises as skills, most named first."""
    index = _Index(catalogue)
    try:
        return _match(index, job_description).skills
    finally:
        index.close()


# --- choosing topics ---------------------------------------------------------------------


def _choose(index: _Index, match: _Match) -> tuple[dict[str, list[_Entry]], InterviewPlan]:
    """Topics per stage, and the plan that matches best (it fills unmatched stages)."""
    entries = index.entries
    affinity: dict[str, float] = defaultdict(float)
    for row, value in match.scores.items():
        affinity[entries[row].plan.id] += value
    primary = next(
        e.plan for e in sorted(entries, key=lambda e: (-affinity.get(e.plan.id, 0.0), e.order))
    )
    # A topic's own match, tempered by how well its whole plan matches: between two similar
    # topics the one from the role the advert describes wins, which keeps rounds coherent.
    top = affinity[primary.id]
    scores = {
        row: value * (0.5 + 0.5 * affinity[entries[row].plan.id] / top)
        for row, value in match.scores.items()
    }
    best = max(scores.values())
    ranked = sorted(
        (row for row, value in scores.items() if value >= RELATIVE_MIN_SCORE * best),
        key=lambda row: (-scores[row], row),
    )
    chosen: dict[str, list[_Entry]] = defaultdict(list)
    questions: set[str] = set()
    for row in ranked:
        entry = entries[row]
        stage = _STAGE_OF[entry.round.kind]
        key = " ".join(entry.topic.question.lower().split())
        # A drafted plan saved into rounds/ joins the catalogue: never ask its copy twice.
        if len(chosen[stage]) < MAX_TOPICS_PER_ROUND and key not in questions:
            chosen[stage].append(entry)
            questions.add(key)
    for stage in _STAGE_ORDER:
        picked = chosen[stage]
        if len(picked) >= MIN_TOPICS_PER_ROUND:
            continue
        # Too few matches for a round: fill from the round the best match came from, else
        # from the best-matching plan's round of this stage (a loop always has all stages).
        if picked:
            source: tuple[str, str] | None = (picked[0].plan.id, picked[0].round.id)
        else:
            source = next(
                ((primary.id, r.id) for r in primary.rounds if _STAGE_OF[r.kind] == stage), None
            )
        for entry in entries:
            if len(picked) >= MIN_TOPICS_PER_ROUND:
                break
            key = " ".join(entry.topic.question.lower().split())
            if (entry.plan.id, entry.round.id) == source and key not in questions:
                picked.append(entry)
                questions.add(key)
    return {s: chosen[s] for s in _STAGE_ORDER if chosen[s]}, primary


# --- building the plan -------------------------------------------------------------------


class _Ids:
    """Hands out ids unique in one namespace, keeping the original where it is free."""

    def __init__(self) -> None:
        self.by_source: dict[tuple[str, ...], str] = {}
        self.taken: set[str] = set()

    def get(self, origin: tuple[str, ...], original: str) -> str:
        """The id for ``original`` from ``origin``: the same origin always gets the same id."""
        key = (*origin, original)
        if key not in self.by_source:
            new = original
            if new in self.taken:
                new = f"{original}_{origin[0]}"[:64]
            n = 2
            while new in self.taken:
                new, n = f"{original[:60]}_{n}", n + 1
            self.taken.add(new)
            self.by_source[key] = new
        return self.by_source[key]


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]


def _rules(entries: list[_Entry]) -> Rules:
    sources: dict[tuple[str, str], tuple[Round, int]] = {}
    for e in entries:
        r, n = sources.get((e.plan.id, e.round.id), (e.round, 0))
        sources[(e.plan.id, e.round.id)] = (r, n + 1)
    if len(sources) == 1:
        round_, n = next(iter(sources.values()))
        if n == len(round_.topics):
            return round_.rules
    # Budgets in proportion to the topics taken from each source round.
    turns = sum(math.ceil(r.rules.max_turns * n / len(r.topics)) for r, n in sources.values())
    minutes = sum(math.ceil(r.rules.max_minutes * n / len(r.topics)) for r, n in sources.values())
    rounds = [r for r, _ in sources.values()]
    return Rules(
        max_minutes=max(10, minutes),
        max_turns=max(6, turns),
        max_follow_ups=max(r.rules.max_follow_ups for r in rounds),
        allowed=list(dict.fromkeys(a for r in rounds for a in r.rules.allowed)),
        forbidden=list(dict.fromkeys(f for r in rounds for f in r.rules.forbidden)),
    )


def _build_round(
    stage: str, entries: list[_Entry], people: _Ids, topic_ids: _Ids, round_ids: _Ids
) -> Round:
    needed = list(dict.fromkeys(c for e in entries for c in e.topic.competencies))
    definitions: dict[str, Competency] = {}
    for e in entries:
        for c in e.round.rubric.competencies:
            definitions.setdefault(c.id, c)

    # The panel: whoever asks a chosen topic, then colleagues from the same source rounds who
    # care about a competency nobody on the panel covers yet.  Focus is narrowed to what this
    # round scores, because the rubric holds exactly the topics' competencies.
    seats: dict[str, tuple[Panelist, list[str]]] = {}

    def seat(plan_id: str, panelist: Panelist, focus: list[str]) -> None:
        new_id = people.get((plan_id,), panelist.id)
        if new_id not in seats:
            seats[new_id] = (panelist, focus)

    for e in entries:
        if e.topic.panelist is not None:
            person = e.round.panelist(e.topic.panelist)
            focus = [c for c in person.focus if c in needed] or list(e.topic.competencies)
            seat(e.plan.id, person, focus)
    for e in entries:
        for person in e.round.panel:
            covered = {c for _, focus in seats.values() for c in focus}
            extra = [c for c in person.focus if c in needed and c not in covered]
            if extra and len(seats) < 4:
                seat(e.plan.id, person, [c for c in person.focus if c in needed])
    if not seats:  # only topics without a named asker: seat the source round's first panelist
        e = entries[0]
        seat(e.plan.id, e.round.panel[0], needed)
    panel = [
        person.model_copy(update={"id": new_id, "focus": focus})
        for new_id, (person, focus) in seats.items()
    ]

    topics = []
    for e in entries:
        update: dict[str, Any] = {"id": topic_ids.get((e.plan.id, e.round.id), e.topic.id)}
        if e.topic.panelist is not None:
            update["panelist"] = people.get((e.plan.id,), e.topic.panelist)
        topics.append(e.topic.model_copy(update=update))

    sources = list(dict.fromkeys((e.plan.id, e.round.id) for e in entries))
    if len(sources) == 1:
        source = entries[0].round
        round_id, title, description = source.id, source.title, source.description
        kind, version = source.kind, source.rubric.version
    else:
        rounds = list({(e.plan.id, e.round.id): e.round for e in entries}.values())
        round_id, title = stage, _STAGE_TITLES[stage]
        description = " ".join(dict.fromkeys(_first_sentence(r.description) for r in rounds))
        kinds = Counter(e.round.kind for e in entries)
        kind = max(kinds, key=lambda k: (kinds[k], -[e.round.kind for e in entries].index(k)))
        version = "1"
    return Round(
        id=round_ids.get((stage,), round_id),
        title=title,
        kind=kind,
        description=description,
        opening=_opening(topics),
        panel=panel,
        topics=topics,
        rubric=Rubric(version=version, competencies=[definitions[c] for c in needed]),
        rules=_rules(entries),
    )


def _opening(topics: list[Topic]) -> str:
    """What the lead tells the candidate about this round, from the questions it really has."""
    count = len(topics)
    coding = sum(t.kind is QuestionKind.CODING for t in topics)
    noun = "question" if count == 1 else "questions"
    text = f"We have {count} {noun} for you in this round."
    if coding:
        text += (
            f" {coding} of them {'is' if coding == 1 else 'are'} solved in Python in the shared "
            "editor: talk us through your approach, run the visible tests whenever you like "
            "and submit when you're happy."
        )
    else:
        text += " There is no code to write; think out loud and tell us your assumptions."
    return text


def _knowledge(chosen: Iterable[_Entry]) -> list[Document]:
    docs: list[Document] = []
    ids = _Ids()
    seen: set[tuple[str, str]] = set()
    for e in chosen:
        for d in e.plan.knowledge:
            if set(d.tags) & set(e.topic.knowledge_tags) and (e.plan.id, d.id) not in seen:
                seen.add((e.plan.id, d.id))
                docs.append(d.model_copy(update={"id": ids.get((e.plan.id,), d.id)}))
    return docs


_ROLE_NOUN = (
    r"(?:engineer|developer|scientist|analyst|architect|designer|programmer|researcher|"
    r"administrator|specialist|consultant|manager|sre)s?"
)


def _clean_role(text: str) -> str:
    text = re.sub(r"[*#_`>|]+", " ", text)
    text = re.sub(
        r"^\W*(?:job\s+description|we(?:'re| are)\s+hiring|hiring|now hiring)\W*",
        "",
        text,
        flags=re.I,
    )
    return " ".join(text.split()).strip(" .,:;-–—!")[:80]


def role_from(job_description: str) -> str | None:
    """The role a job description advertises, if it says so recognisably."""
    role = _find_role(job_description)
    # "backend engineer" → "Backend Engineer"; keep deliberate casing such as "iOS Engineer".
    return role.title() if role and role == role.lower() else role


def _find_role(job_description: str) -> str | None:
    lines = [ln.strip() for ln in job_description.splitlines() if ln.strip()]
    for line in lines:
        labelled = re.match(r"^\W*(?:job\s+)?(?:title|role|position)\s*[:\-–—]\s*(.+)$", line, re.I)
        if labelled and _clean_role(labelled.group(1)):
            return _clean_role(labelled.group(1))
    if lines:
        first = _clean_role(lines[0])
        if first and len(first.split()) <= 8 and re.search(rf"\b{_ROLE_NOUN}\b", first, re.I):
            return first
    found = re.search(
        rf"\b(?:looking for|hiring|seeking|join us as|to hire|as)\s+(?:an?\s+|our\s+)?"
        rf"((?:[\w+#./-]+\s+){{0,4}}?{_ROLE_NOUN})\b",
        job_description,
        re.I,
    )
    return _clean_role(found.group(1)) if found else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "plan"


def assemble_plan(job_description: str, catalogue: list[InterviewPlan]) -> InterviewPlan:
    """Assemble a plan from the catalogue topics that best match ``job_description``.

    Deterministic: the same text and catalogue give the same plan.

    Raises:
        DraftError: the text names no skill any catalogue topic covers.
    """
    if not catalogue:
        raise DraftError("there are no interview plans to draft from", code="no_catalogue")
    index = _Index(catalogue)
    try:
        match = _match(index, job_description)
        if not match.skills or not match.scores:
            raise DraftError(_no_skill_message(catalogue))
        chosen, primary = _choose(index, match)
    finally:
        index.close()

    people, topic_ids, round_ids = _Ids(), _Ids(), _Ids()
    rounds = [
        _build_round(s, entries, people, topic_ids, round_ids) for s, entries in chosen.items()
    ]
    order = [_STAGE_OF[r.kind] for r in primary.rounds]
    rounds_by_stage = dict(zip(chosen, rounds, strict=True))
    ordered = [
        rounds_by_stage[s]
        for s in sorted(
            chosen,
            key=lambda s: order.index(s) if s in order else len(order) + _STAGE_ORDER.index(s),
        )
    ]
    picked = [e for entries in chosen.values() for e in entries]
    role = role_from(job_description) or primary.role
    sources = Counter(e.plan.role for e in picked)
    digest = hashlib.sha256(job_description.strip().encode("utf-8")).hexdigest()[:8]
    summary = (
        f"Drafted offline from a job description. Skills recognised: "
        f"{', '.join(match.skills[:12])}. Topics taken from the "
        + ", ".join(f"{role_} ({n})" for role_, n in sources.most_common())
        + " interview plans."
    )
    data = InterviewPlan(
        id=f"draft_{_slug(role)}_{digest}",
        title=f"{role} interview (drafted from a job description)",
        role=role,
        version="1",
        summary=summary,
        rounds=ordered,
        knowledge=_knowledge(picked),
    ).model_dump(mode="json")
    # Built from validated parts with model_copy (which skips validation): validate the whole.
    return parse_plan(data, _DRAFT_PATH)


def _no_skill_message(catalogue: list[InterviewPlan]) -> str:
    examples = dict.fromkeys(
        re.sub(r"[_\-]+", " ", r.topics[0].knowledge_tags[0])
        for p in catalogue
        for r in p.rounds
        if r.topics[0].knowledge_tags
    )
    roles = ", ".join(dict.fromkeys(p.role for p in catalogue))
    return (
        "the job description names no skill the interview catalogue covers: describe the "
        "role's technologies, methods and responsibilities (the catalogue covers "
        f"{roles}; for example {', '.join(list(examples)[:9])})"
    )


# --- the entry point ---------------------------------------------------------------------


def check_job_description(job_description: str) -> str:
    """Return the job description stripped, or raise DraftError saying what is wrong with it."""
    text = job_description.strip()
    if not text:
        raise DraftError(
            "the job description is empty; paste the role's description with the skills it needs"
        )
    if len(text) > MAX_JOB_DESCRIPTION:
        raise DraftError(
            f"the job description is {len(text)} characters long; the limit is "
            f"{MAX_JOB_DESCRIPTION}: keep the role's summary, responsibilities and requirements"
        )
    return text


def validate_drafted(plan: Any) -> InterviewPlan:
    """Round-trip an engine's plan through the plan schema.

    Raises:
        DraftError: with ``code="invalid_plan"`` and every schema problem.
    """
    try:
        # model_construct() and model_copy() skip validation: only a round trip proves a plan.
        data = plan.model_dump(mode="json") if isinstance(plan, InterviewPlan) else plan
        return parse_plan(data, _DRAFT_PATH)
    except (AttributeError, TypeError, ValueError) as exc:
        problems = exc.problems if isinstance(exc, PlanError) else [str(exc)]
        raise DraftError(
            "the engine drafted a plan that does not validate:\n"
            + "\n".join(f"  - {p}" for p in problems),
            code="invalid_plan",
            problems=problems,
        ) from None


async def draft_plan(
    job_description: str, brain: Brain, rounds_dir: Path | None = None
) -> InterviewPlan:
    """Draft a plan for ``job_description`` with ``brain`` from the plans in ``rounds_dir``.

    Args:
        job_description: the advert's text (at most ``MAX_JOB_DESCRIPTION`` characters).
        brain: the engine that drafts (``Brain.draft_plan``).
        rounds_dir: where the catalogue's plans are; defaults to the settings' ``rounds_dir``.

    Raises:
        DraftError: the text is empty, too long or names no known skill
            (``code="bad_job_description"``), or the engine's plan is invalid
            (``code="invalid_plan"``).
    """
    text = check_job_description(job_description)
    if rounds_dir is None:
        from ..settings import get_settings

        rounds_dir = get_settings().rounds_dir
    catalogue = await asyncio.to_thread(load_catalogue, rounds_dir)
    return validate_drafted(await brain.draft_plan(text, catalogue))


# --- writing -----------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line text (code, long answers), so a drafted file reads well."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render_plan(plan: InterviewPlan, comment: str | None = None) -> str:
    """The plan as YAML text that :func:`~.loader.load_plan` reads back to an equal plan."""
    body = yaml.dump(
        plan.model_dump(mode="json"),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    header = "".join(f"# {line}\n" for line in (comment or "").splitlines())
    return header + body


def dump_plan(
    plan: InterviewPlan, path: str | Path, *, overwrite: bool = True, comment: str | None = None
) -> Path:
    """Write ``plan`` as YAML to ``path`` (creating its directory); return the path.

    The file appears whole or not at all (written beside it, then renamed).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        OSError: the file cannot be written.
    """
    path = Path(path)
    text = render_plan(plan, comment)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file where the directory should be; not "the plan exists"
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(path.parent)) from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails with FileExistsError instead of replacing
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
