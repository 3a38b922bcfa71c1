"""Settings: every knob is an environment variable named ``GRIDGOV_*``."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Process-wide configuration, read once from the environment (prefix ``GRIDGOV_``)."""

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{REPO_ROOT / 'var' / 'gridgov.sqlite'}",
        description="SQLAlchemy URL: sqlite:///path (embedded default) or postgresql+psycopg://...",
    )
    county_code: str = Field(default="430921", description="Default county (adcode) for the demo.")
    ogc_default_limit: int = Field(default=100, ge=1)
    ogc_max_limit: int = Field(default=10_000, ge=1)
    base_url: str | None = Field(
        default=None, description="Public base URL for links; taken from the request when unset."
    )


@lru_cache
def get_settings() -> Settings:
    """The settings of this process (cached; tests clear the cache to change them)."""
    return Settings()
