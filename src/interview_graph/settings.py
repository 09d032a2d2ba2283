"""Process-wide settings, read from the environment (prefix ``INTERVIEW_``) and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Settings for the whole process; per-interview choices live in the runtime context."""

    model_config = SettingsConfigDict(env_prefix="INTERVIEW_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="Checkpoints and event log.")
    rounds_dir: Path = Field(default=PROJECT_ROOT / "rounds", description="Interview plan files.")
    default_plan: str = "backend_engineer"
    engine: str = Field(default="offline", description="Decision engine: offline (default).")

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

    @property
    def database(self) -> Path:
        """The SQLite file holding checkpoints and the transcript event log."""
        return self.data_dir / "interviews.sqlite"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (read once)."""
    return Settings()
