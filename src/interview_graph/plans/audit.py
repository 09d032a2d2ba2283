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
from .models import CodingSpec, InterviewPlan, KeyPoint, QuestionKind

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


def audit_plan(plan: InterviewPlan) -> list[str]:
    """Return every content problem found in ``plan`` (empty when it is fit for use)."""
    problems: list[str] = []
    doc_tags = {t for d in plan.knowledge for t in d.tags}
    for r in plan.rounds:
        for t in r.topics:
            where = f"{plan.id}/{r.id}/{t.id}"
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
