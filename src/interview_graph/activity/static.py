"""Static analysis of submitted Python: structure, complexity estimate, style, approach.

The code is parsed with :mod:`ast` and never executed here.  Execution against the
question's tests happens only in the sandbox (the activity agent's execution step).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from ..plans.models import CodingSpec


@dataclass
class CodeFacts:
    """What the parser can tell about a piece of code."""

    syntax_error: str | None = None
    functions: list[str] = field(default_factory=list)
    has_function: bool = False
    arity_ok: bool = False
    loops: int = 0
    max_loop_depth: int = 0
    recursive: bool = False
    sorts: bool = False
    complexity: str = "unknown"
    style: list[str] = field(default_factory=list)
    lines: int = 0


class _Walker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.depth = 0
        self.max_depth = 0
        self.loops = 0
        self.sorts = False
        self.calls: set[str] = set()

    def _loop(self, node: ast.AST) -> None:
        self.loops += 1
        self.depth += 1
        self.max_depth = max(self.max_depth, self.depth)
        self.generic_visit(node)
        self.depth -= 1

    visit_For = visit_While = visit_AsyncFor = _loop  # noqa: N815

    def visit_comprehension(self, node: ast.comprehension) -> None:  # noqa: D102
        self.loops += 1
        self.max_depth = max(self.max_depth, self.depth + 1)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:  # noqa: D102, N802
        name = (
            node.func.id
            if isinstance(node.func, ast.Name)
            else (node.func.attr if isinstance(node.func, ast.Attribute) else "")
        )
        self.calls.add(name)
        if name in ("sorted", "sort"):
            self.sorts = True
        self.generic_visit(node)


def _expected_arity(signature: str) -> int | None:
    try:
        tree = ast.parse(signature.rstrip().rstrip(":") + ":\n    pass")
    except SyntaxError:
        return None
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef)), None)
    return len(fn.args.args) if fn else None


def analyse(code: str, spec: CodingSpec | None) -> CodeFacts:
    """Parse ``code`` and describe it; a syntax error is reported, never raised."""
    facts = CodeFacts(lines=len(code.splitlines()))
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        facts.syntax_error = f"line {exc.lineno}: {exc.msg}"
        return facts
    funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    facts.functions = [f.name for f in funcs]
    walker = _Walker()
    walker.visit(tree)
    facts.loops, facts.max_loop_depth, facts.sorts = walker.loops, walker.max_depth, walker.sorts
    for fn in funcs:
        inner = {
            n.func.id
            for n in ast.walk(fn)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        facts.recursive |= fn.name in inner
    if spec is not None:
        target = next((f for f in funcs if f.name == spec.function_name), None)
        facts.has_function = target is not None
        expected = _expected_arity(spec.signature)
        facts.arity_ok = target is not None and (
            expected is None or len(target.args.args) == expected
        )
    facts.complexity = _complexity(facts)
    facts.style = _style(code, tree, funcs)
    return facts


def _complexity(facts: CodeFacts) -> str:
    if facts.recursive and facts.max_loop_depth == 0:
        return "recursive (depends on branching)"
    if facts.max_loop_depth >= 2:
        return f"O(n^{facts.max_loop_depth})"
    if facts.sorts:
        return "O(n log n)"
    if facts.max_loop_depth == 1:
        return "O(n)"
    return "O(1)"


def _style(
    code: str, tree: ast.Module, funcs: list[ast.FunctionDef | ast.AsyncFunctionDef]
) -> list[str]:
    issues = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is None:
            issues.append(f"line {node.lineno}: bare except hides errors")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "print"
        ):
            issues.append(f"line {node.lineno}: print left in the solution")
    for fn in funcs:
        length = (fn.end_lineno or fn.lineno) - fn.lineno + 1
        if length > 40:
            issues.append(f"function {fn.name} is {length} lines long")
        names = {a.arg for a in fn.args.args} | {
            t.id
            for n in ast.walk(fn)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        short = sorted(n for n in names if len(n) == 1 and n not in {"i", "j", "k", "n", "x", "_"})
        if short:
            issues.append(f"function {fn.name}: unclear one-letter names {', '.join(short)}")
    long_lines = [i for i, line in enumerate(code.splitlines(), 1) if len(line) > 100]
    if long_lines:
        issues.append(f"{len(long_lines)} line(s) longer than 100 characters")
    return issues[:6]


def canonical(code: str) -> str:
    """Code with comments, docstrings and formatting removed, for verbatim comparison."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return re.sub(r"\s+", "", code)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            body.pop(0)  # type: ignore[union-attr]  # body is the list `first` came from
    return ast.dump(tree, annotate_fields=False)


def resemblance(code: str, spec: CodingSpec) -> tuple[str | None, bool, bool]:
    """Match ``code`` against the question's reference approaches.

    Returns:
        The approach it resembles (or None), whether that is the preferred (first) one, and
        whether the code is a verbatim copy of a reference solution.
    """
    best, best_hits = None, 0
    for i, approach in enumerate(spec.reference_approaches):
        hits = sum(marker in code for marker in approach.markers)
        if hits > best_hits:
            best, best_hits = (approach.name, i), hits
    canon = canonical(code)
    verbatim = any(a.code and canonical(a.code) == canon for a in spec.reference_approaches)
    if best is None:
        return None, False, verbatim
    return best[0], best[1] == 0, verbatim
