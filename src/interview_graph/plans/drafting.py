"""Draft an interview plan from a job description.

:func:`draft_plan` is the entry point for the CLI and the WebSocket service: it checks the
job description, hands it with the question catalogue (``rounds/catalogue/``) to the
interview's engine (``Brain.draft_plan``) and re-validates whatever comes back against the
plan schema, so an engine can never hand the graph a plan that would fail mid-interview.

:func:`assemble_plan` is what the offline engine answers with, and what an LLM planner is
given to adapt: the description is read with the catalogue's skill taxonomy
(:mod:`.skills`), a role family, its rounds and their topics are chosen (:mod:`.matching`)
and built into a plan whose ``drafting`` notes say what was recognised, what each topic
covers and what the catalogue could not cover (:mod:`.assembly`).
"""

from __future__ import annotations

import asyncio
import errno
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .assembly import build_plan
from .catalogue import Catalogue, load_catalogue
from .loader import PlanError, parse_plan
from .matching import GENERAL, choose_family, select
from .models import InterviewPlan
from .skills import Found, find_skills, narrow, role_from, seniority

if TYPE_CHECKING:
    from ..engine.base import Brain

__all__ = [
    "MAX_JOB_DESCRIPTION",
    "DraftError",
    "assemble_plan",
    "catalogue_for",
    "check_job_description",
    "draft_plan",
    "dump_plan",
    "render_plan",
    "role_from",
    "validate_drafted",
]

MAX_JOB_DESCRIPTION = 20_000
_DRAFT_PATH = Path("<drafted plan>")


class DraftError(ValueError):
    """A plan could not be drafted; the message says what was wrong and how to fix it.

    Attributes:
        code: ``bad_job_description`` (the user can fix the text), ``invalid_plan`` (the
            engine's plan did not validate) or ``no_catalogue`` (nothing to draft from).
        problems: the individual problems, one line each.
    """

    def __init__(
        self, message: str, *, code: str = "bad_job_description", problems: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.problems = problems or [message]


# --- offline assembly --------------------------------------------------------------------


def catalogue_for(rounds_dir: Path) -> Catalogue:
    """The question catalogue under ``rounds_dir`` (a broken family file is logged, skipped).

    Raises:
        DraftError: ``no_catalogue``: there is no role family to draft from.
    """
    catalogue = load_catalogue(Path(rounds_dir) / "catalogue", skip_broken=True)
    if not any(f for f in catalogue.families if f != GENERAL):
        raise DraftError(
            f"there is no role family in {Path(rounds_dir) / 'catalogue'} to draft a plan from",
            code="no_catalogue",
        )
    return catalogue


def assemble_plan(job_description: str, catalogue: Catalogue) -> InterviewPlan:
    """Assemble a plan for ``job_description`` from the catalogue's topics.

    Deterministic: the same text and catalogue give the same plan.

    Raises:
        DraftError: neither the title nor any skill of the text points to a role family.
    """
    role = role_from(job_description)
    found = find_skills(job_description, catalogue)
    choice = choose_family(role, found, catalogue)
    if choice is None:
        raise DraftError(_no_match_message(catalogue, role, found))
    # A phrase two skills share means the one this family (or general) assesses.
    general = catalogue.families.get(GENERAL)
    assessed = {s for f in (choice.family, general) if f for t in f.topics for s in t.skills}
    found = narrow(found, job_description, assessed)
    level, level_reason = seniority(job_description, role)
    selection = select(choice, found, catalogue, level)
    if not selection.rounds:
        raise DraftError(
            f"the catalogue's {choice.family.name} family has no topics for a {level} role yet",
            code="no_catalogue",
        )
    plan = build_plan(
        job_description=job_description,
        role=role or choice.family.titles[0],
        choice=choice,
        selection=selection,
        found=found,
        level=level,
        level_reason=level_reason,
        catalogue=catalogue,
    )
    # The same round trip an engine's plan gets: what is dumped must load back equal.
    return parse_plan(plan.model_dump(mode="json"), _DRAFT_PATH)


def _no_match_message(catalogue: Catalogue, role: str | None, found: list[Found]) -> str:
    families = [f for f in catalogue.families.values() if f.id != GENERAL]
    covers = f"the catalogue covers {', '.join(f.name for f in families)}"
    if role and found:
        return (
            f"no role family of the catalogue fits {role!r}: {covers}; the description's "
            f"skills ({', '.join(i.skill.name for i in found[:6])}) are too few of any "
            "family's to draft a plan honestly"
        )
    examples = [s.name for f in families for s in f.skills[:2]]
    return (
        "the job description names no skill the interview catalogue covers and no role it "
        "knows: give the role's title and describe its technologies, methods and "
        f"responsibilities ({covers}; skills such as {', '.join(examples[:9])})"
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
    """Draft a plan for ``job_description`` with ``brain`` from the catalogue in ``rounds_dir``.

    Args:
        job_description: the advert's text (at most ``MAX_JOB_DESCRIPTION`` characters).
        brain: the engine that drafts (``Brain.draft_plan``).
        rounds_dir: where the plans are (the catalogue is its ``catalogue/`` directory);
            defaults to the settings' ``rounds_dir``.

    Raises:
        DraftError: the text is empty, too long or names no known skill or role
            (``code="bad_job_description"``), the engine's plan is invalid
            (``code="invalid_plan"``), or there is no catalogue (``code="no_catalogue"``).
    """
    text = check_job_description(job_description)
    if rounds_dir is None:
        from ..settings import get_settings

        rounds_dir = get_settings().rounds_dir
    catalogue = await asyncio.to_thread(catalogue_for, rounds_dir)
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
