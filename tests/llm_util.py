"""Point the LLM engine at an OpenAI-compatible endpoint for one test (settings + model caches)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from interview_graph.context import InterviewContext
from interview_graph.llm.models import reset_models
from interview_graph.settings import get_settings


@contextmanager
def llm_settings(mp: pytest.MonkeyPatch, base_url: str, **env: str) -> Iterator[None]:
    """Use ``base_url`` for every role, with short timeouts so faults resolve quickly."""
    mp.setenv("INTERVIEW_LLM_BASE_URL", base_url)
    mp.setenv("INTERVIEW_LLM_API_KEY", "sk-test-not-a-real-key")
    mp.setenv("INTERVIEW_LLM_TIMEOUT", env.pop("timeout", "5"))
    mp.setenv("INTERVIEW_LLM_MAX_RETRIES", env.pop("retries", "2"))
    for name, value in env.items():
        mp.setenv(f"INTERVIEW_LLM_{name.upper()}", value)
    get_settings.cache_clear()
    reset_models()
    _forget_brains()
    try:
        yield
    finally:
        get_settings.cache_clear()
        reset_models()
        _forget_brains()


def _forget_brains() -> None:
    # Services (and their brains) are cached per context; an LLM brain built under other
    # settings must not leak into the next test.
    from interview_graph import context

    for key in [k for k in context._SERVICES if isinstance(k[1], InterviewContext)]:
        del context._SERVICES[key]
