"""Settings: every knob is an environment variable named ``GRIDGOV_*``."""

import secrets
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

PLACEHOLDER_SECRET = "change-me-placeholder-secret"
MIN_SECRET_LENGTH = 32


class InsecureSettings(RuntimeError):
    """Settings that must not reach production (a placeholder or short secret outside the demo)."""


class Settings(BaseSettings):
    """Process-wide configuration, read once from the environment (prefix ``GRIDGOV_``)."""

    model_config = SettingsConfigDict(env_prefix="GRIDGOV_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{REPO_ROOT / 'var' / 'gridgov.sqlite'}",
        description="SQLAlchemy URL: sqlite:///path (embedded default) or postgresql+psycopg://...",
    )
    database_owner_url: str | None = Field(
        default=None,
        description="URL of the role that owns the tables, for migrations, imports and shell commands; unset: "
        "database_url. On PostgreSQL set both: the web app then connects as a gridgov_app member that owns "
        "nothing, so row-level security applies to it.",
    )
    database_pool_size: int = Field(
        default=20, ge=1, description="Requests a worker process serves at once on PostgreSQL, each on a "
        "connection of its own kept open between requests; more wait for a free one.",
    )
    county_code: str = Field(default="430921", description="Default county (adcode) for the demo.")
    ogc_default_limit: int = Field(default=100, ge=1)
    ogc_max_limit: int = Field(default=10_000, ge=1)
    base_url: str | None = Field(
        default=None, description="Public base URL for links; taken from the request when unset."
    )
    demo: bool = Field(default=False, description="Demo mode: placeholder secret and plain-http cookie allowed.")
    secret_key: str = Field(
        default=PLACEHOLDER_SECRET,
        description=f"Signs tokens and session cookies (HS256); at least {MIN_SECRET_LENGTH} random characters.",
    )
    access_token_minutes: int = Field(default=30, ge=1, description="Lifetime of an API bearer token.")
    session_minutes: int = Field(default=8 * 60, ge=1, description="Lifetime of a web session cookie.")
    session_cookie_secure: bool = Field(
        default=True, description="Send the session cookie over HTTPS only (the demo, on plain http, turns it off)."
    )
    sign_in_max_failures: int = Field(default=5, ge=1, description="Failed sign-ins in a row before a lock.")
    sign_in_lock_minutes: int = Field(default=15, ge=1, description="How long an account stays locked.")

    cache_seconds: float = Field(
        default=10.0, ge=0, description="How long a worker remembers users' jurisdictions and the county's "
        "categories, chiefs and map version; a change made in another worker shows within this time. 0: off.",
    )
    photo_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description="Largest photo accepted, in bytes.")
    photo_root: Path = Field(default=REPO_ROOT / "var" / "photos", description="Folder photos are stored in.")
    batch_max_items: int = Field(default=10_000, ge=1, description="Most findings or fixes in one batch request.")
    track_max_fixes: int = Field(default=50_000, ge=2, description="Most GPS fixes in one patrol (413 beyond).")
    river_coverage_m: float = Field(default=50.0, gt=0, description="A river counts as patrolled this close.")
    area_coverage_m: float = Field(default=100.0, gt=0, description="Forest or farmland counts as covered this close.")
    max_speed_kmh: float = Field(default=120.0, gt=0, description="Faster between two fixes is flagged.")
    max_outside_m: float = Field(default=500.0, gt=0, description="A fix farther outside the grid is flagged.")

    planning_backdate_days: int = Field(
        default=30, ge=0, description="How many days before today a change set may take effect (a map change "
        "recorded late); earlier dates are refused.",
    )
    planning_review_required: bool = Field(
        default=False, description="Whether a change set must be approved by a second planner before it applies.",
    )

    timezone: str = Field(default="Asia/Shanghai", description="The county's clock: working hours and days.")
    work_hours: str = Field(
        default="08:30-12:00,14:00-17:30", description="Working hours of a working day (deadlines count only "
        "these), as comma-separated HH:MM-HH:MM periods in the county's time zone.",
    )
    scheduler_seconds: float = Field(
        default=60.0, ge=0, description="How often the app checks deadlines, escalates and delivers "
        "notifications (0: off; run `gridgov tick` from cron instead).",
    )
    notify_channels: str = Field(default="log", description="Comma-separated channels: log, webhook.")
    notify_log_path: Path = Field(default=REPO_ROOT / "var" / "notifications.jsonl",
                                  description="Where the log channel appends notifications, one JSON per line.")
    notify_webhook_url: str | None = Field(default=None, description="URL the webhook channel POSTs to.")
    notify_max_attempts: int = Field(default=8, ge=1, description="Delivery attempts before a notification fails.")
    notify_backoff_seconds: float = Field(default=30.0, gt=0, description="Wait before the first retry; doubles.")
    kpi_small_sample: int = Field(default=20, ge=1, description="KPIs of fewer findings are marked, not ranked.")
    map_tile_url: str | None = Field(
        default=None, description="Basemap tiles for the maps, a Leaflet URL template on the county's own network "
        "(e.g. a Tianditu or Amap mirror). Empty: no basemap, the unit outlines are the background.")
    map_tile_gcj02: bool = Field(
        default=False, description="The tiles are in GCJ-02 (Amap): the maps shift GridGov's CGCS2000 data onto them.")
    map_tile_attribution: str | None = Field(default=None, description="Credit line the tile source requires.")

    @model_validator(mode="after")
    def _demo_defaults(self) -> "Settings":
        # The demo serves http://127.0.0.1, where a Secure cookie would never come back; and a secret
        # everyone can read in this file must not sign its tokens, so the demo draws one per process.
        if self.demo:
            if "session_cookie_secure" not in self.model_fields_set:
                self.session_cookie_secure = False
            if self.secret_key == PLACEHOLDER_SECRET:
                self.secret_key = secrets.token_urlsafe(48)
        return self

    def check_production(self) -> None:
        """Refuse to run outside the demo with a placeholder or short secret (tokens could be forged)."""
        if self.demo:
            return
        if self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < MIN_SECRET_LENGTH:
            raise InsecureSettings(
                f"GRIDGOV_SECRET_KEY is a placeholder or shorter than {MIN_SECRET_LENGTH} characters. Set it to "
                "a random value, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`, "
                "or set GRIDGOV_DEMO=1 for the local demo."
            )


@lru_cache
def get_settings() -> Settings:
    """The settings of this process (cached; tests clear the cache to change them)."""
    return Settings()


def county_today() -> date:
    """Today on the county's clock (``GRIDGOV_TIMEZONE``): duty days change at local midnight, not UTC's."""
    return datetime.now(ZoneInfo(get_settings().timezone)).date()
