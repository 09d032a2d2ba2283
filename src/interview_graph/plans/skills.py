"""Reading a job description: the taxonomy skills it names, where, and the role's seniority.

Matching is on whole tokens, never substrings: the description and every skill's name and
synonyms are split by the same tokeniser, and a skill is recognised where its token sequence
appears in the description's.  Tokens keep the symbols that make a technology's name
(``C++``, ``C#``, ``F#``); dots, slashes and hyphens separate (``Node.js`` is ``node js``,
``CI/CD`` is ``ci cd``).  The last token of a phrase may take a plural ``s``/``es``
("pipelines", "DAGs") or drop a plural ``s`` ("A/B test" for "A/B tests").  Every
recognised skill keeps the exact spans it matched, so what is reported as recognised is
provably in the text.  A phrase several skills use credits each of them.

Each occurrence is weighted by the section it appears in: the title and the requirements
count most, responsibilities a little less, an unlabelled intro less again, nice-to-have
items little and the company blurb or benefits almost nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from .catalogue import Catalogue, Seniority, Skill

Section = Literal["title", "required", "responsibilities", "other", "nice_to_have", "about"]

SECTION_WEIGHTS: dict[Section, float] = {
    "title": 1.5,
    "required": 1.0,
    "responsibilities": 0.8,
    "other": 0.6,
    "nice_to_have": 0.35,
    "about": 0.1,
}
# Sections whose skills a plan must cover or report as uncovered.
REQUIRED_SECTIONS: frozenset[str] = frozenset({"title", "required", "responsibilities"})

_TOKEN = re.compile(r"[a-z0-9]+[+#]*", re.I)

# Section headings, by what they introduce.  A heading is a short line (markdown heading, bold
# or ending in a colon); the first pattern that matches it decides.
_HEADINGS: list[tuple[Section, re.Pattern[str]]] = [
    (
        "nice_to_have",
        re.compile(
            r"nice[\s-]to[\s-]haves?|bonus|preferred|desirable|a plus|pluses|extra credit|"
            r"would be great|not required|good to have|optional|even better",
            re.I,
        ),
    ),
    (
        "about",
        re.compile(
            r"about (?:us|the company|the team)|who we are|benefits|perks|what we offer|"
            r"compensation|salary|our culture|why (?:join|work)|equal opportunit|how to apply|"
            r"the process|interview process",
            re.I,
        ),
    ),
    (
        "required",
        re.compile(
            r"requirements?|required|must[\s-]haves?|qualifications|"
            r"what you(?:'ll)? (?:need|bring)|you have|you bring|you(?:'ll)? need|about you|"
            r"who you are|what we(?:'re| are) "
            r"looking for|skills|experience|essential|we expect|you are|you're",
            re.I,
        ),
    ),
    (
        "responsibilities",
        re.compile(
            r"responsibilit|what you(?:'ll| will) do|the role|your role|day[\s-]to[\s-]day|"
            r"you will|you'll|in this role|the job|what you'll work on|your impact|mission",
            re.I,
        ),
    ),
]
# An item marked nice-to-have inside another section ("Terraform is a plus").
_INLINE_NICE = re.compile(
    r"\b(?:nice[\s-]to[\s-]have|a (?:big )?plus|bonus|preferred|desirable|ideally|"
    r"is an advantage|not required|optional)\b",
    re.I,
)
_NEGATED = re.compile(r"\b(?:no|not|without|never)\s+(?:\w+\s+){0,2}$", re.I)


@dataclass(frozen=True)
class Token:
    """A token of the text: lower-cased, with its character span."""

    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text`` (see the module docstring for the rules)."""
    return [Token(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _phrase(term: str) -> tuple[str, ...]:
    return tuple(t.text for t in tokenize(term))


# Single-word names that are also everyday English: matched only with the capitals the
# taxonomy writes them with ("Go", "Swift"), never as the verb or adjective.
_AMBIGUOUS = frozenset(
    "go r c swift rust spark flow express make ruby dart elm crystal julia ember chef puppet "
    "salt storm beam pig hive looker mode figma sketch framer excel word access kit".split()
)


@dataclass(frozen=True)
class _Term:
    skills: tuple[str, ...]  # every skill this phrase names ("Kafka": streaming and queues)
    tokens: tuple[str, ...]
    capital: bool  # an ambiguous single word: only with a capital, as a name is written


def _terms(skills: Iterable[Skill]) -> list[_Term]:
    named: dict[tuple[str, ...], list[str]] = {}
    for s in skills:
        for surface in dict.fromkeys([s.name, *s.synonyms]):
            tokens = _phrase(surface)
            if tokens and s.id not in named.setdefault(tokens, []):
                named[tokens].append(s.id)
    out = []
    for tokens, ids in named.items():
        word = tokens[0]
        # "Go", "ML", "Swift" are names; "go", "ml" (millilitre), "swift" are not.
        capital = len(tokens) == 1 and word.isalpha() and (len(word) <= 2 or word in _AMBIGUOUS)
        out.append(_Term(tuple(sorted(ids)), tokens, capital))
    # Longest phrases first: "machine learning engineer" before "machine learning".
    return sorted(out, key=lambda t: (-len(t.tokens), t.tokens))


@dataclass
class Found:
    """A skill recognised in the text."""

    skill: Skill
    spans: list[tuple[int, int]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    matched: list[str] = field(default_factory=list)

    @property
    def section(self) -> Section:
        """The most demanding section it appears in."""
        return max(self.sections, key=lambda s: SECTION_WEIGHTS[s])

    @property
    def weight(self) -> float:
        """Its best section's weight, a little more for every further mention (capped)."""
        extra = min(0.3, 0.1 * (len(self.sections) - 1))
        return round(SECTION_WEIGHTS[self.section] + extra, 3)

    @property
    def required(self) -> bool:
        """Whether the description requires it (rather than naming it in passing)."""
        return self.section in REQUIRED_SECTIONS


def _heading(line: str) -> str | None:
    """The heading text if ``line`` is a heading, else None."""
    stripped = line.strip()
    plain = re.sub(r"^#+\s*|^\*\*|\*\*:?$|^__|__$", "", stripped).strip()
    marked = (
        stripped.startswith("#")
        or (stripped.startswith("**") and stripped.rstrip(":").endswith("**"))
        or (stripped.endswith(":") and len(plain.split()) <= 8)
    )
    # A short unmarked line that reads like a heading ("What you'll need", "Nice to have").
    bare = (
        len(plain.split()) <= 6
        and not re.match(r"^[-*•\d]", plain)
        and not plain.endswith((".", ","))
        and any(rx.search(plain) for _, rx in _HEADINGS)
    )
    return plain.rstrip(":").strip() if (marked or bare) and plain else None


def sections(text: str) -> list[tuple[int, int, Section]]:
    """(start, end, section) for every line of ``text``; the first line is the title."""
    out: list[tuple[int, int, Section]] = []
    current: Section = "other"
    offset = 0
    first = True
    for line in text.splitlines(keepends=True):
        start, end = offset, offset + len(line)
        offset = end
        if not line.strip():
            continue
        if first:
            first = False
            out.append((start, end, "title"))
            continue
        heading = _heading(line)
        if heading is not None:
            current = next((s for s, rx in _HEADINGS if rx.search(heading)), "other")
            # "Skills: Python, SQL" is a heading and its own item.
            out.append((start, end, current))
            continue
        section: Section = current
        if current in REQUIRED_SECTIONS | {"other"} and _INLINE_NICE.search(line):
            section = "nice_to_have"
        out.append((start, end, section))
    return out


def find_skills(text: str, catalogue: Catalogue) -> list[Found]:
    """Every taxonomy skill ``text`` names, the most telling first.

    Phrases are matched longest first and a token belongs to one match only, so
    "machine learning engineer" is not also "machine learning" and "engineer".
    """
    tokens = tokenize(text)
    words = [t.text for t in tokens]
    lines = sections(text)
    taken = [False] * len(tokens)
    found: dict[str, Found] = {}
    for term in _terms(catalogue.skills.values()):
        n = len(term.tokens)
        for i in range(len(tokens) - n + 1):
            if any(taken[i : i + n]) or not _matches(words, i, term.tokens):
                continue
            start, end = tokens[i].start, tokens[i + n - 1].end
            surface = text[start:end]
            if term.capital and surface.islower():
                continue
            if _NEGATED.search(text[max(0, start - 30) : start]):
                continue  # "no Kubernetes needed" does not ask for Kubernetes
            for k in range(i, i + n):
                taken[k] = True
            section = _section_at(lines, start)
            for skill in term.skills:
                entry = found.setdefault(skill, Found(catalogue.skills[skill]))
                entry.spans.append((start, end))
                entry.sections.append(section)
                if surface not in entry.matched:
                    entry.matched.append(surface)
    return sorted(found.values(), key=lambda f: (-f.weight, min(f.spans), f.skill.id))


def narrow(found: list[Found], text: str, preferred: set[str]) -> list[Found]:
    """``found`` with each shared phrase credited only to the ``preferred`` skills it names.

    "Kafka" names event streaming and message queues; in a data-engineering advert it means
    the one the family assesses.  A phrase none of whose skills is preferred keeps them all.
    """
    owners: dict[tuple[int, int], set[str]] = {}
    for f in found:
        for span in f.spans:
            owners.setdefault(span, set()).add(f.skill.id)
    out: list[Found] = []
    for f in found:
        kept = Found(f.skill)
        for span, section in zip(f.spans, f.sections, strict=True):
            named = owners[span]
            if f.skill.id in preferred or not named & preferred:
                kept.spans.append(span)
                kept.sections.append(section)
                if text[span[0] : span[1]] not in kept.matched:
                    kept.matched.append(text[span[0] : span[1]])
        if kept.spans:
            out.append(kept)
    return sorted(out, key=lambda f: (-f.weight, min(f.spans), f.skill.id))


def _matches(words: list[str], i: int, phrase: tuple[str, ...]) -> bool:
    last = len(phrase) - 1
    for k, want in enumerate(phrase):
        got = words[i + k]
        if got == want:
            continue
        # A plural on the phrase's last word ("pipelines", "DAGs", "APIs"), or the singular
        # of a plural one ("A/B test" for "A/B tests").
        if k == last and len(want) >= 3 and got in (want + "s", want + "es"):
            continue
        if k == last and len(want) >= 4 and want.endswith("s") and got == want[:-1]:
            continue
        return False
    return True


def _section_at(lines: list[tuple[int, int, Section]], offset: int) -> Section:
    for start, end, section in lines:
        if start <= offset < end:
            return section
    return "other"


# --- the role ------------------------------------------------------------------------------

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


# --- seniority ---------------------------------------------------------------------------

_LEVEL_WORDS: list[tuple[Seniority, re.Pattern[str]]] = [
    ("staff", re.compile(r"\b(?:staff|principal|distinguished|head of|director|lead)\b", re.I)),
    ("senior", re.compile(r"\b(?:senior|sr\.?|snr)\b", re.I)),
    (
        "junior",
        re.compile(r"\b(?:junior|jr\.?|graduate|grad|entry[\s-]level|intern|trainee)\b", re.I),
    ),
    ("mid", re.compile(r"\b(?:mid[\s-]?level|intermediate|mid)\b", re.I)),
]
_YEARS = re.compile(r"\b(\d{1,2})\s*\+?\s*(?:-\s*\d{1,2}\s*)?(?:years?|yrs?)\b", re.I)


def seniority(text: str, title: str | None) -> tuple[Seniority, str]:
    """The role's level and why: the title's level word, else years asked for, else mid."""
    for source, where in ((title, "the title"), (text.split("\n", 1)[0], "the first line")):
        if not source:
            continue
        for level, rx in _LEVEL_WORDS:
            m = rx.search(source)
            if m:
                return level, f"{where} says {m.group(0)!r}"
    years = [int(m.group(1)) for m in _YEARS.finditer(text) if int(m.group(1)) < 30]
    if years:
        y = max(years)
        by_years: Seniority = (
            "staff" if y >= 8 else "senior" if y >= 5 else "mid" if y >= 2 else "junior"
        )
        return by_years, f"the description asks for {y}+ years"
    # Level words in the body are not read: "mentor junior engineers" is not a junior role.
    return "mid", "no level is named; mid-level assumed"
