"""Process-wide settings, read from the environment (prefix ``INTERVIEW_``) and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Settings for the whole process; per-interview choices live in the runtime context."""

    model_config = SettingsConfigDict(env_prefix="INTERVIEW_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="Checkpoints and event log.")
    database_url: str = Field(
        default="",
        description="Empty: SQLite in data_dir; postgresql://…: PostgreSQL shared by several "
        "server processes (checkpoints and event log).",
    )
    rounds_dir: Path = Field(default=PROJECT_ROOT / "rounds", description="Interview plan files.")
    default_plan: str = "backend_engineer"
    engine: str = Field(
        default="auto",
        description="Decision engine: auto (llm when an API key or base_url is set, else "
        "offline), offline or llm.",
    )

    # LLM mode (langchain-openai; OpenAI or any OpenAI-compatible server)
    llm_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("INTERVIEW_LLM_API_KEY", "OPENAI_API_KEY")
    )
    llm_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("INTERVIEW_LLM_BASE_URL", "OPENAI_BASE_URL"),
        description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8001/v1 (vLLM).",
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Model for every role by default.")
    llm_models: dict[str, str] = Field(
        default_factory=dict,
        description="Per-role model overrides: master, screen (defaults to master's), "
        "panelist, evaluator, planner, candidate (self-play only).",
    )
    llm_temperatures: dict[str, float] = Field(
        default_factory=lambda: {
            "master": 0.0,
            "screen": 0.0,
            "panelist": 0.7,
            "evaluator": 0.0,
            "planner": 0.4,
            "candidate": 0.8,
        }
    )
    llm_fallback_model: str | None = Field(
        default=None, description="Tried when the role's model keeps failing."
    )
    llm_timeout: float = Field(default=30.0, description="Seconds per request (never 600).")
    llm_max_retries: int = Field(
        default=2, description="Retries on 429/5xx, honouring Retry-After."
    )
    llm_max_tokens: dict[str, int] = Field(
        default_factory=lambda: {
            "master": 400,
            "screen": 48,
            "panelist": 400,
            "evaluator": 800,
            "planner": 16_000,
            "candidate": 400,
        },
        description="Token cap per role (sent on every call: small models loop without one). "
        "Speech is capped from its prompt's word limit instead (see llm_tokens_per_word).",
    )
    llm_tokens_per_word: float = Field(
        default=2.0, description="Speech token cap = the prompt's word limit × this + 16."
    )
    llm_cap_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens",
        description="Request field that carries the cap: max_tokens (OpenAI chat models, "
        "vLLM, llama.cpp, Ollama) or max_completion_tokens (OpenAI o-series).",
    )
    llm_deadlines: dict[str, float] = Field(
        default_factory=lambda: {
            "master": 6.0,
            "screen": 4.0,
            "panelist": 6.0,
            "evaluator": 8.0,
            "planner": 180.0,
            "candidate": 30.0,
        },
        description="Seconds one call may take in total, across its retries and its repair, "
        "before the offline decision is used (speech: until its first token).",
    )
    llm_speech_seconds: float = Field(
        default=25.0, description="Wall-clock cap on one spoken reply, first token to last."
    )
    llm_screen_grace: float = Field(
        default=0.003,
        description="Seconds the gate waits for the rules screen once the reply's first "
        "token is ready; then the reply is released under the deterministic rules' verdict "
        "and a late screen verdict is handled after it (see panelist.nodes._late_screen).",
    )
    llm_post_reply_wait: float = Field(
        default=1.0,
        description="Seconds the turn waits for post-reply work (screen verdict, reflection, "
        "evaluation); what is not done by then merges at the next step instead.",
    )
    thinking_notice_seconds: float = Field(
        default=3.0,
        description="A reply with no first token after this long sends a transient "
        "'thinking' status to the client.",
    )
    llm_critical_path: Literal["fast", "full"] = Field(
        default="fast",
        description="fast: one LLM call between a candidate message and the reply's first "
        "token; full: the master's per-turn decisions are LLM calls too (slower).",
    )
    llm_prices: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": (0.15, 0.60),
            "gpt-4o": (2.50, 10.00),
            "gpt-4.1-mini": (0.40, 1.60),
            "gpt-4.1": (2.00, 8.00),
        },
        description="USD per million tokens (prompt, completion) per model, for cost estimates.",
    )

    # WebSocket service
    auth: Literal["jwt", "dev"] = Field(
        default="jwt", description="jwt: HS256 tokens; dev: a plain user id (no authentication)."
    )
    jwt_secret: str = Field(default="", description="HS256 secret; required when auth=jwt.")
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed to open /ws besides the server's own origin.",
    )
    log_dir: Path = Field(default=PROJECT_ROOT / "logs", description="Per-user logs.")
    login_timeout: float = 10.0
    max_frame_bytes: int = 128 * 1024
    rate_per_second: float = 20.0
    rate_burst: int = 40
    outbound_queue: int = 2_000
    send_timeout: float = 10.0
    runner_idle_seconds: float = Field(
        default=5.0,
        description="PostgreSQL only: a runner with no connection and nothing to do for this "
        "long stops and releases its interview's lock, so another process can take it over.",
    )
    lease_wait_seconds: float = Field(
        default=15.0,
        description="PostgreSQL only: how long a resume waits for another process to release "
        "the interview before answering error interview_busy.",
    )
    database_pool_size: int = Field(
        default=10,
        ge=2,
        description="PostgreSQL only: connections per process for checkpoints and the event "
        "log (the process's lock session is one more). Size it so every process fits "
        "PostgreSQL's max_connections.",
    )

    @property
    def llm_configured(self) -> bool:
        """Whether an API key or an endpoint is set (``engine=auto`` then means ``llm``)."""
        return self.llm_api_key is not None or bool(self.llm_base_url)

    @property
    def engine_name(self) -> str:
        """The engine ``auto`` resolves to."""
        if self.engine != "auto":
            return self.engine
        return "llm" if self.llm_configured else "offline"

    def model_for(self, role: str) -> str:
        """The model name used for ``role``."""
        if role == "screen" and "screen" not in self.llm_models:
            return self.model_for("master")  # the screen is the master's check
        return self.llm_models.get(role, self.llm_model)

    @property
    def database(self) -> Path:
        """The SQLite file holding checkpoints and the transcript event log."""
        return self.data_dir / "interviews.sqlite"

    @property
    def store(self) -> str:
        """Where interviews are stored: the PostgreSQL DSN if set, else the SQLite file."""
        return self.database_url or str(self.database)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (read once)."""
    return Settings()
