"""Interview plans: the models, the YAML loader and the shipped plan files."""

from .loader import PlanError, load_plan, plan_files, resolve_plan
from .models import (
    CodingSpec,
    Competency,
    InterviewPlan,
    KeyPoint,
    Level,
    Panelist,
    QuestionKind,
    Round,
    Rubric,
    Topic,
)

__all__ = [
    "CodingSpec",
    "Competency",
    "InterviewPlan",
    "KeyPoint",
    "Level",
    "Panelist",
    "PlanError",
    "QuestionKind",
    "Round",
    "Rubric",
    "Topic",
    "load_plan",
    "plan_files",
    "resolve_plan",
]
