"""Content checks for plan authors: do the sample answers and solutions behave as labelled?

Schema validation (models.py) proves a plan is well-formed; this audit proves it is useful
as demo and test data: strong sample answers cover most key points, weak ones few, every
key point's own text evidences it, and the reference solutions pass their own tests.
Run with ``python -m interview_graph.plans.audit rounds/*.yaml``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ..activity.static import canonical
from ..engine.coverage import cover, phrase_in, words
from .loader import PlanError, load_plan
from .models import CodingSpec, InterviewPlan, KeyPoint, Panelist, QuestionKind, Round, Topic

# Bands a sample answer's key-point coverage must fall in for its level.
BANDS = {"strong": (0.75, 1.0), "average": (0.3, 0.7), "weak": (0.0, 0.3)}

_RUNNER = textwrap.dedent(
    """
    import json, sys
    spec = json.loads(sys.stdin.read())
    ns = {}
    exec(spec["code"], ns)
    fn = ns[spec["function"]]
    out = []
    for case in spec["cases"]:
        try:
            got = json.loads(json.dumps(fn(*case["args"])))
            out.append(got == case["expected"])
        except Exception:
            out.append(False)
    print(json.dumps(out))
    """
)


def run_trusted_solution(code: str, spec: CodingSpec) -> list[bool]:
    """Run plan-authored (trusted) code against every test case in a child interpreter.

    Candidate code never comes through here: it is executed only in the activity sandbox.
    """
    cases = [t.model_dump() for t in [*spec.visible_tests, *spec.hidden_tests]]
    payload = json.dumps({"code": code, "function": spec.function_name, "cases": cases})
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _RUNNER],
        input=payload,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    if proc.returncode != 0:
        return [False] * len(cases)
    return [bool(x) for x in json.loads(proc.stdout)]


def _key_point_problems(where: str, kp: KeyPoint) -> list[str]:
    if not any(phrase_in(words(kp.text), p) for p in kp.phrases):
        return [f"{where}: key point {kp.id!r} text does not contain any of its own phrases"]
    return []


# What a panel needs to react like an interviewer, per topic (issue "a panel that listens").
MIN_HINTS, MIN_MISCONCEPTIONS, MIN_CLARIFICATIONS, MIN_REPHRASINGS = 2, 1, 1, 1
MIN_TRANSITIONS = 3
_SENTENCE_END = (".", "?", "!", ":", "—")


def _conversation_problems(where: str, t: Topic) -> list[str]:
    """The listening material: hints, clarifications, misconceptions, rephrasings, snippets."""
    problems: list[str] = []
    for field, minimum in (
        ("hints", MIN_HINTS),
        ("misconceptions", MIN_MISCONCEPTIONS),
        ("clarifications", MIN_CLARIFICATIONS),
        ("rephrasings", MIN_REPHRASINGS),
    ):
        if len(getattr(t, field)) < minimum:
            problems.append(f"{where}: needs at least {minimum} {field}")
    for i, hint in enumerate(t.hints):
        # A hint points the way; if reading it out covered a key point, it gave the answer.
        given = cover(hint.text, t.key_points).covered
        if given:
            problems.append(f"{where}: hints[{i}] gives away key point(s) {list(given)}")
    strong = words(t.sample_answers.strong)
    for wrong in t.misconceptions:
        if not any(phrase_in(words(wrong.text), p) for p in wrong.phrases):
            problems.append(f"{where}: misconception {wrong.id!r} text has none of its phrases")
        if any(phrase_in(strong, p) for p in wrong.phrases):
            problems.append(
                f"{where}: misconception {wrong.id!r} phrases match the strong sample answer"
            )
    for rephrasing in t.rephrasings:
        if words(rephrasing) == words(t.question):
            problems.append(f"{where}: a rephrasing repeats the question word for word")
    for comp in t.competencies if t.kind is not QuestionKind.CODING else ():
        # Every competency a topic is scored on needs evidence it can be scored from (on a
        # coding question the submitted code is evidence for each of them too).
        if not any((kp.competency or t.competencies[0]) == comp for kp in t.key_points):
            problems.append(f"{where}: no key point is evidence for competency {comp!r}")
    for kp in t.key_points:
        if kp.label is None or kp.competency is None:
            problems.append(f"{where}: key point {kp.id!r} needs a label and a competency")
        if kp.snippets is None:
            problems.append(f"{where}: key point {kp.id!r} has no snippets")
            continue
        if kp.id not in cover(kp.snippets.strong, [kp]).covered:
            problems.append(f"{where}: key point {kp.id!r} strong snippet does not cover it")
        if kp.id in cover(kp.snippets.weak, [kp]).covered:
            problems.append(f"{where}: key point {kp.id!r} weak snippet covers it")
        for wrong in t.misconceptions:
            if any(phrase_in(words(kp.snippets.strong), p) for p in wrong.phrases):
                problems.append(
                    f"{where}: key point {kp.id!r} strong snippet says misconception {wrong.id!r}"
                )
    return problems


def _people_problems(where: str, r: Round, seen: set[str]) -> list[str]:
    problems: list[str] = []
    if r.opening is None:
        problems.append(f"{where}: round has no opening (what the lead tells the candidate)")
    for p in r.panel:
        if p.id in seen:
            continue
        seen.add(p.id)
        problems += _persona_problems(f"{where}/{p.id}", p)
    return problems


def _persona_problems(where: str, p: Panelist) -> list[str]:
    problems: list[str] = []
    if p.intro is None:
        problems.append(f"{where}: panelist has no first-person intro")
    if len(p.transitions) < MIN_TRANSITIONS:
        problems.append(f"{where}: panelist needs at least {MIN_TRANSITIONS} transitions")
    for line in [*p.acknowledgements, *p.probes, *p.transitions]:
        if not line.rstrip().endswith(_SENTENCE_END):
            problems.append(f"{where}: {line!r} does not end like a sentence (. ? ! : —)")
    for ack in p.acknowledgements:
        # Moving on is the next asker's line; an acknowledgement that says it doubles it.
        if "mov" in ack.lower() or "next" in ack.lower():
            problems.append(f"{where}: acknowledgement {ack!r} announces a transition")
    return problems


def audit_plan(plan: InterviewPlan) -> list[str]:
    """Return every content problem found in ``plan`` (empty when it is fit for use)."""
    problems: list[str] = []
    doc_tags = {t for d in plan.knowledge for t in d.tags}
    seen: set[str] = set()
    for r in plan.rounds:
        problems += _people_problems(f"{plan.id}/{r.id}", r, seen)
        for t in r.topics:
            where = f"{plan.id}/{r.id}/{t.id}"
            problems += _conversation_problems(where, t)
            for kp in t.key_points:
                problems += _key_point_problems(where, kp)
            for level, (lo, hi) in BANDS.items():
                ratio = cover(getattr(t.sample_answers, level), t.key_points).ratio
                if not lo <= ratio <= hi:
                    problems.append(
                        f"{where}: {level} sample answer covers {ratio:.0%} of key points "
                        f"(expected {lo:.0%}–{hi:.0%})"
                    )
            missing_tags = [tag for tag in t.knowledge_tags if tag not in doc_tags]
            if missing_tags:
                problems.append(
                    f"{where}: knowledge_tags {missing_tags} match no knowledge document"
                )
            if t.kind is QuestionKind.CODING and t.coding is not None:
                problems += _audit_coding(where, t.coding)
    return problems


def _audit_coding(where: str, spec: CodingSpec) -> list[str]:
    problems = []
    strong = run_trusted_solution(spec.solutions.strong, spec)
    average = run_trusted_solution(spec.solutions.average, spec)
    weak = run_trusted_solution(spec.solutions.weak, spec)
    if not all(strong):
        problems.append(f"{where}: strong solution fails {strong.count(False)} test(s)")
    if not all(average[: len(spec.visible_tests)]):
        problems.append(f"{where}: average solution should pass every visible test")
    if all(weak):
        problems.append(f"{where}: weak solution passes every test; it should fail some")
    for approach in spec.reference_approaches:
        if approach.code and not all(run_trusted_solution(approach.code, spec)):
            problems.append(f"{where}: reference approach {approach.name!r} fails its tests")
        # The strong persona writes its own code; only the paste persona submits a reference
        # verbatim, and that is what the verbatim-copy integrity signal must catch.
        if approach.code and canonical(approach.code) == canonical(spec.solutions.strong):
            problems.append(
                f"{where}: strong solution is a verbatim copy of reference approach "
                f"{approach.name!r}"
            )
    return problems


def main(argv: list[str]) -> int:
    """Audit each plan file named in ``argv``; print problems; return a process exit code."""
    failed = 0
    for name in argv:
        try:
            problems = audit_plan(load_plan(Path(name)))
        except PlanError as exc:
            problems = [str(exc)]
        for p in problems:
            print(p)
        failed += bool(problems)
        print(f"{name}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
