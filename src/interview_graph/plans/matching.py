"""Choosing what a drafted plan holds: the role family, its rounds and their topics.

The family comes from the advert's title first (the family whose title it contains), then
from the weighted skill mass: how much of what the description asks for each family's topics
assess.  ``general`` is never the family; it supplies behavioural topics to every plan.

Topics are chosen by greedy weighted set cover with diminishing returns: each step takes the
(round, topic) pair that adds the most not-yet-covered skill weight (a skill already covered
once counts for a third; a related skill for less than the skill itself), skipping near-
duplicates (same format, mostly the same skills).  Topics of another family are taken only
to cover a skill the description requires that the family's own topics cannot, so a plan
never drifts into an unrelated loop.  A round short of topics is filled with its own
family's topics, never with another family's: when coverage is poor, the notes say so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .catalogue import (
    SENIORITIES,
    Catalogue,
    CatalogueTopic,
    Family,
    Format,
    RoundTemplate,
    Seniority,
)
from .models import QuestionKind
from .skills import REQUIRED_SECTIONS, SECTION_WEIGHTS, Found, tokenize

GENERAL = "general"
MIN_TOPICS_PER_ROUND = 2
MAX_TOPICS_PER_ROUND = 3
MAX_ROUNDS: dict[Seniority, int] = {"junior": 3, "mid": 4, "senior": 4, "staff": 5}
# A skill covered once more is worth this share of its weight (diminishing returns).
REPEAT_VALUE = 0.3
# A topic's skills after its first (main) one count for this share.
SECONDARY_VALUE = 0.4
# How much of a cover a topic's secondary skill gets (for the diminishing returns).
TOUCH_VALUE = 0.3
# A topic on a related skill covers this share of it.
RELATED_VALUE = 0.4
# Same format and at least this Jaccard overlap of skills: the same question twice.
NEAR_DUPLICATE = 0.6
# Another family's topics are considered when it holds at least this share of the mass.
BORROW_SHARE = 0.35
# Without a title match, a family needs this share of the skill weight and this many skills.
MIN_MASS_SHARE = 0.4
MIN_SKILLS = 3
_LEVEL_WORDS = {"senior", "sr", "junior", "jr", "staff", "principal", "lead", "head", "mid"}


@dataclass(frozen=True)
class Candidate:
    """A catalogue topic the plan may use, with its family."""

    family: Family
    topic: CatalogueTopic
    order: int  # catalogue position: the deterministic tie-break
    borrowed: bool = False


@dataclass
class FamilyChoice:
    """The family a description is drafted for, and why."""

    family: Family
    reason: str
    borrowable: list[Family] = field(default_factory=list)


@dataclass
class Selection:
    """The rounds a plan will run and the topics chosen for each."""

    rounds: list[tuple[RoundTemplate, list[Candidate]]]


# --- the family ----------------------------------------------------------------------------


def _title_tokens(text: str) -> list[str]:
    return [t.text for t in tokenize(text) if t.text not in _LEVEL_WORDS]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(
        all(
            h == w or h in (w + "s", w + "es")
            for h, w in zip(haystack[i : i + n], needle, strict=True)
        )
        for i in range(len(haystack) - n + 1)
    )


def title_matches(role: str | None, family: Family) -> str | None:
    """The family title ``role`` contains (as whole words, level words aside), if any."""
    if not role:
        return None
    tokens = _title_tokens(role)
    best: str | None = None
    for title in family.titles:
        want = _title_tokens(title)
        # A one-word title ("Engineer") would match nearly every advert: not evidence.
        if len(want) >= 2 and _contains(tokens, want) or (len(want) == 1 and tokens == want):
            if best is None or len(want) > len(_title_tokens(best)):
                best = title
    return best


def skill_mass(found: list[Found], catalogue: Catalogue) -> dict[str, float]:
    """Per family: the weight of recognised skills its topics assess (listed only: half)."""
    assessed: dict[str, set[str]] = {
        f.id: {s for t in f.topics for s in t.skills} for f in catalogue.families.values()
    }
    mass: dict[str, float] = {}
    for f in catalogue.families.values():
        mass[f.id] = 0.0
        listed = {s.id for s in f.skills}
        for item in found:
            if item.skill.id in assessed[f.id]:
                mass[f.id] += item.weight
            elif item.skill.id in listed:
                mass[f.id] += 0.5 * item.weight
    return mass


def choose_family(
    role: str | None, found: list[Found], catalogue: Catalogue
) -> FamilyChoice | None:
    """The family to draft for, or None when neither the title nor any skill points to one."""
    families = [f for f in catalogue.families.values() if f.id != GENERAL]
    if not families:
        return None
    mass = skill_mass(found, catalogue)
    total = sum(i.weight for i in found) or 1.0
    titled = {f.id: t for f in families if (t := title_matches(role, f)) is not None}

    def key(f: Family) -> tuple[float, int, str]:
        return (mass.get(f.id, 0.0), len(_title_tokens(titled.get(f.id, ""))), f.id)

    if titled:
        family = max((f for f in families if f.id in titled), key=key)
        why = f"the title {role!r} names a {family.name} role ({titled[family.id]!r})"
    else:
        # Without a title match, skills alone must make the case: a family of the same kind
        # of role (an engineer is not drafted a designer's loop) that assesses a good share
        # of several recognised skills.  Otherwise no plan is better than a wrong one.
        noun = _role_noun(role)
        fitting = [
            f for f in families if noun is None or any(noun in _title_tokens(t) for t in f.titles)
        ]
        if not fitting:
            return None
        family = max(fitting, key=key)
        own_count = sum(_assesses(family, i.skill.id) for i in found)
        if mass.get(family.id, 0.0) < MIN_MASS_SHARE * total or own_count < MIN_SKILLS:
            return None
        why = f"no family's title is in {'the title ' + repr(role) if role else 'the advert'}"
        why += f"; {family.name} topics assess the most of the skills it asks for"
    own = [i for i in found if _assesses(family, i.skill.id)]
    if found:
        names = ", ".join(i.skill.name for i in own[:6]) or "none"
        why += (
            f"; its topics assess {len(own)} of the {len(found)} recognised skills "
            f"({mass.get(family.id, 0.0) / total:.0%} of their weight: {names})"
        )
    # A role that writes no code never borrows an engineering loop's questions.
    borrowable = [
        f
        for f in families
        if f.id != family.id
        and (family.engineering or not f.engineering)
        and mass.get(f.id, 0.0) >= BORROW_SHARE * max(mass.get(family.id, 0.0), 1.0)
    ]
    return FamilyChoice(family, why, borrowable)


_ROLE_NOUNS = (
    "engineer developer scientist analyst architect designer manager researcher "
    "administrator consultant tester sre programmer"
).split()


def _role_noun(role: str | None) -> str | None:
    """The kind of role a title names ("engineer" in "Senior iOS Engineer"), if any."""
    tokens = _title_tokens(role or "")
    return next((t.rstrip("s") for t in reversed(tokens) if t.rstrip("s") in _ROLE_NOUNS), None)


def _assesses(family: Family, skill: str) -> bool:
    return any(skill in t.skills for t in family.topics)


# --- rounds and topics ----------------------------------------------------------------------


def _level(level: Seniority) -> int:
    return SENIORITIES.index(level)


def _templates(family: Family, general: Family | None, level: Seniority) -> list[RoundTemplate]:
    """The family's round templates for this level (general's behavioural one if it has none)."""
    out = [
        r
        for r in family.rounds
        if _level(r.min_seniority) <= _level(level)
        and (family.engineering or r.kind is not QuestionKind.CODING)
    ]
    if general is not None and not any(r.kind is QuestionKind.BEHAVIOURAL for r in out):
        out += [
            r
            for r in general.rounds
            if r.kind is QuestionKind.BEHAVIOURAL and _level(r.min_seniority) <= _level(level)
        ][:1]
    return out


def _jaccard(a: list[str], b: list[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


class _Cover:
    """Weighted coverage so far, and what a topic would add to it."""

    def __init__(self, found: list[Found], catalogue: Catalogue) -> None:
        self.weights = {i.skill.id: i.weight for i in found}
        self.required = {i.skill.id for i in found if i.section in REQUIRED_SECTIONS}
        self.count: dict[str, float] = defaultdict(float)
        self.related: dict[str, set[str]] = {}
        for s in catalogue.skills.values():
            for r in s.related:
                # Related is symmetric for coverage: a Spark topic partly covers PySpark.
                self.related.setdefault(s.id, set()).add(r)
                self.related.setdefault(r, set()).add(s.id)

    def value(self, topic: CatalogueTopic) -> float:
        gain = 0.0
        own = set(topic.skills)
        for i, s in enumerate(topic.skills):
            if s in self.weights:
                # A topic is mostly about its first skill; the others it touches on.
                share = 1.0 if i == 0 else SECONDARY_VALUE
                gain += share * self.weights[s] * REPEAT_VALUE ** self.count[s]
        # Related skills only break ties between topics: the best one counts, not their sum
        # (a rich taxonomy links most skills to several others).
        near = {r for s in own for r in self.related.get(s, ())} - own
        partial = [
            self.weights[s] * REPEAT_VALUE ** self.count[s] for s in near & self.weights.keys()
        ]
        return gain + RELATED_VALUE * max(partial, default=0.0)

    def uncovered_required(self, topic: CatalogueTopic, own: set[str]) -> bool:
        """Whether ``topic`` is about a required skill nothing in ``own`` covers, not yet covered.

        Only the topic's main (first) skill counts, and only a skill the requirements or
        title name: another family's question is worth its place only for what the role
        plainly needs.
        """
        main = topic.skills[0]
        return (
            main in self.required
            and self.weights.get(main, 0.0) >= SECTION_WEIGHTS["required"]
            and main not in own
            and self.count[main] == 0
        )

    def add(self, topic: CatalogueTopic) -> None:
        # A topic covers its main skill fully and only touches the others: a question on
        # file layout that mentions Spark leaves room for the Spark question.
        for i, s in enumerate(topic.skills):
            self.count[s] += 1.0 if i == 0 else TOUCH_VALUE


def _eligible(c: Candidate, template: RoundTemplate, level: Seniority, strict: bool) -> bool:
    if c.topic.format not in template.formats:
        return False
    if template.kind is QuestionKind.CODING and c.topic.kind is not QuestionKind.CODING:
        return False
    if template.kind is not QuestionKind.CODING and c.topic.kind is QuestionKind.CODING:
        return False
    if not c.family.engineering and c.topic.format is Format.CODING:
        return False
    return not strict or level in c.topic.seniority


def select(
    choice: FamilyChoice, found: list[Found], catalogue: Catalogue, level: Seniority
) -> Selection:
    """The rounds and topics of the plan (see the module docstring)."""
    family = choice.family
    general = catalogue.families.get(GENERAL)
    pool: list[Candidate] = []
    for f, borrowed in (
        (family, False),
        *(((general, False),) if general is not None else ()),
        *((b, True) for b in choice.borrowable),
    ):
        for t in f.topics:
            if not family.engineering and t.format is Format.CODING:
                continue  # a non-engineering role is never set code, whoever wrote the topic
            pool.append(Candidate(f, t, len(pool), borrowed))
    templates = _templates(family, general, level)
    cover = _Cover(found, catalogue)
    # What the family's own topics (and general's) can assess: borrowing is only for the rest.
    own = {s for c in pool if not c.borrowed for s in c.topic.skills}

    def potential(template: RoundTemplate) -> float:
        values = sorted(
            (cover.value(c.topic) for c in pool if _eligible(c, template, level, False)),
            reverse=True,
        )
        return sum(values[:MAX_TOPICS_PER_ROUND])

    if len(templates) > MAX_ROUNDS[level]:
        # Keep the rounds with the most to assess, and always the behavioural one.
        keep = sorted(
            templates,
            key=lambda r: (
                r.kind is not QuestionKind.BEHAVIOURAL,
                -potential(r),
                templates.index(r),
            ),
        )[: MAX_ROUNDS[level]]
        templates = [r for r in templates if r in keep]

    chosen: dict[str, list[Candidate]] = {r.id: [] for r in templates}
    used: set[str] = set()

    def duplicate(c: Candidate) -> bool:
        return any(
            p.topic.format == c.topic.format
            and _jaccard(p.topic.skills, c.topic.skills) >= NEAR_DUPLICATE
            for picked in chosen.values()
            for p in picked
        )

    while True:
        best_key: tuple[float, bool, bool, int, int] | None = None
        best: tuple[Candidate, RoundTemplate] | None = None
        for ti, template in enumerate(templates):
            picked = chosen[template.id]
            if len(picked) >= MAX_TOPICS_PER_ROUND:
                continue
            for c in pool:
                if c.topic.id in used or not _eligible(c, template, level, True):
                    continue
                if c.borrowed and (
                    not cover.uncovered_required(c.topic, own) or any(p.borrowed for p in picked)
                ):
                    continue
                # A round holds its lead formats first: a product-case round takes the case
                # before a conceptual question that could as well sit in another round.
                fit = max(0.7, 1.0 - 0.1 * template.formats.index(c.topic.format))
                gain = cover.value(c.topic) * fit
                if gain <= 0 or duplicate(c):
                    continue
                # Ties: the family's own topics, then general's, then catalogue order.
                key = (round(gain, 6), not c.borrowed, c.family is family, -c.order, -ti)
                if best_key is None or key > best_key:
                    best_key, best = key, (c, template)
        if best is None:
            break
        c, template = best
        chosen[template.id].append(c)
        used.add(c.topic.id)
        cover.add(c.topic)

    # Rounds short of topics: the family's own (or general's) topics, level-fit first.
    for template in templates:
        picked = chosen[template.id]
        for strict in (True, False):
            for c in pool:
                if len(picked) >= MIN_TOPICS_PER_ROUND:
                    break
                if c.borrowed or c.topic.id in used or duplicate(c):
                    continue
                if _eligible(c, template, level, strict):
                    picked.append(c)
                    used.add(c.topic.id)
                    cover.add(c.topic)
    rounds = [(r, sorted(chosen[r.id], key=lambda c: c.order)) for r in templates if chosen[r.id]]
    return Selection(rounds)
