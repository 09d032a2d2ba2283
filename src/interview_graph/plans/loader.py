"""Load interview plans from YAML and turn validation failures into readable errors.

Errors name the file, the dotted path inside it (``rounds[0].topics[2].key_points``), the
line where YAML puts that node when it can be found, and what is wrong.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .models import InterviewPlan

ROUNDS_DIR = Path(__file__).resolve().parents[3] / "rounds"


class PlanError(ValueError):
    """A plan file could not be read or is invalid; the message lists every problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(
            f"{path}: invalid interview plan\n" + "\n".join(f"  - {p}" for p in problems)
        )


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _line_of(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """Find the 1-based line of the YAML node at ``loc``; deepest existing node wins."""
    node, line = root, None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            node = None
    if node is not None:
        line = node.start_mark.line + 1
    return line


def parse_plan(data: Any, path: Path, text: str | None = None) -> InterviewPlan:
    """Validate already-parsed YAML ``data`` read from ``path``."""
    if not isinstance(data, dict):
        raise PlanError(path, ["the file must hold a mapping with id, title, rounds, …"])
    try:
        return InterviewPlan.model_validate(data)
    except ValidationError as exc:
        root = yaml.compose(text) if text is not None else None
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p not in ("function-after",))
            line = _line_of(root, loc)
            where = f"{_dotted(loc)}" + (f" (line {line})" if line else "")
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {msg}")
        raise PlanError(path, problems) from None


def load_plan(path: str | Path) -> InterviewPlan:
    """Read and validate the plan at ``path``.

    Raises:
        PlanError: the file is missing, is not YAML, or does not validate.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(path, [f"cannot read file: {exc.strerror or exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlanError(path, [f"not valid YAML: {exc}"]) from None
    return parse_plan(data, path, text)


def plan_files(directory: Path = ROUNDS_DIR) -> list[Path]:
    """Every plan file shipped in ``directory``, sorted by name."""
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


@lru_cache(maxsize=64)
def _cached(path: str, mtime_ns: int) -> InterviewPlan:
    return load_plan(path)


def resolve_plan(ref: str | Path, directory: Path | None = None) -> InterviewPlan:
    """Load a plan by file path or by id (``backend_engineer`` → ``rounds/backend_engineer.yaml``).

    Ids are looked up in ``directory``, by default the configured ``rounds_dir``
    (``INTERVIEW_ROUNDS_DIR``), so a plan that exists only there starts like a shipped one.

    Loaded plans are cached per file and modification time, so repeated look-ups are cheap.
    """
    if directory is None:
        from ..settings import get_settings  # lazily: settings must not import plans

        directory = get_settings().rounds_dir
    candidate = Path(ref)
    if not candidate.suffix:
        candidate = directory / f"{ref}.yaml"
    if not candidate.exists():
        known = ", ".join(p.stem for p in plan_files(directory)) or "none"
        raise PlanError(candidate, [f"no such plan (shipped plans: {known})"])
    return _cached(str(candidate.resolve()), candidate.stat().st_mtime_ns)
