"""Settings from the environment (and `.env`), validated once at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SANDBOX = "sandbox"


def _parse_ids(value: Any) -> Any:
    """`ADMIN_IDS=1, 2,3` -> [1, 2, 3]; an empty value is an empty list."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace(";", ",").split(",")]
        return [p for p in parts if p]
    if isinstance(value, int):
        return [value]
    return value


class Settings(BaseSettings):
    """Everything the bot reads from its environment. See `.env.example`."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    bot_token: SecretStr
    telegram_api_url: str = "https://api.telegram.org"
    navixy_api_url: str
    navixy_api_key: SecretStr | None = None
    navixy_login: str | None = None
    navixy_password: SecretStr | None = None
    # A relative DATABASE_PATH is taken under DATA_DIR (the image sets DATA_DIR=/data, its
    # volume), so a copied .env can never move the database out of the volume.
    data_dir: Path = Path(".")
    database_path: Path = Path("data/bot.db")
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    installer_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    # At most this many registrations an hour per installer (admins are told when hit).
    registrations_per_hour: int = Field(default=30, gt=0)
    model_refresh_hours: float = Field(default=24.0, gt=0)
    navixy_timeout_seconds: float = Field(default=15.0, gt=0)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    telegram_conflict_exit_seconds: float = Field(default=60.0, gt=0)
    # Health and metrics (/healthz, /readyz, /metrics); off unless a port is given.
    health_port: int | None = Field(default=None, ge=1, le=65535)
    health_host: str = "127.0.0.1"
    # Webhook mode (behind a reverse proxy): Telegram posts updates to WEBHOOK_URL, which
    # the proxy forwards to WEBHOOK_LISTEN:WEBHOOK_PORT. Polling when unset.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    # Watching a registered device until it is online (bot/services/watcher.py).
    watch_activation_minutes: float = Field(default=15.0, gt=0)
    watch_max_hours: float = Field(default=24.0, gt=0)
    watch_auto_retry_minutes: float = Field(default=5.0, gt=0)
    watch_escalate_minutes: float = Field(default=30.0, gt=0)
    watch_tick_seconds: float = Field(default=5.0, gt=0)
    watch_poll_seconds: float = Field(default=15.0, gt=0)

    @field_validator("admin_ids", "installer_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _parse_ids(value)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        head, sep, tail = token.partition(":")
        if not (sep and head.isdigit() and tail):
            raise ValueError("must look like 123456789:ABC... (from @BotFather)")
        return value

    @field_validator("telegram_api_url", "navixy_api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value == SANDBOX:
            return value
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://" + " (or be 'sandbox')")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        value = value.strip()
        if not value.startswith("https://") and not value.startswith("http://127.0.0.1"):
            raise ValueError("must start with https:// (Telegram posts only to HTTPS)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        # Telegram's rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("must be 1-256 characters: letters, digits, _ and -")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        if not self.database_path.is_absolute():
            self.database_path = self.data_dir / self.database_path
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError("WEBHOOK_URL needs WEBHOOK_SECRET (Telegram sends it with updates)")
        return self

    @model_validator(mode="after")
    def _credentials(self) -> Settings:
        if self.use_sandbox:
            return self
        has_key = self.navixy_api_key is not None and self.navixy_api_key.get_secret_value()
        has_login = bool(self.navixy_login) and self.navixy_password is not None
        if not has_key and not has_login:
            raise ValueError(
                "set NAVIXY_API_KEY, or NAVIXY_LOGIN and NAVIXY_PASSWORD "
                "(or NAVIXY_API_URL=sandbox to try the bot)"
            )
        return self

    @property
    def use_sandbox(self) -> bool:
        return self.navixy_api_url == SANDBOX

    @property
    def uses_webhook(self) -> bool:
        """Telegram posts updates to WEBHOOK_URL (which requires WEBHOOK_SECRET); else polling."""
        return self.webhook_url is not None and self.webhook_secret is not None

    def role_of(self, user_id: int) -> str | None:
        """'admin', 'installer' or None (not allowed to register)."""
        if user_id in self.admin_ids:
            return "admin"
        if user_id in self.installer_ids:
            return "installer"
        return None


class SettingsError(Exception):
    """Invalid configuration; `problems` holds one printable line each, no secret values."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings, or raise SettingsError with one line per problem."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError([_describe(err) for err in exc.errors()]) from None


def _describe(err: Any) -> str:
    # Never echo the input value: it may be a token or a password.
    loc = [str(part) for part in err.get("loc", ()) if not str(part).isdigit()]
    name = loc[0].upper() if loc else ""
    message = str(err.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    if err.get("type") == "missing":
        message = "is required"
    if err.get("type") in {"int_parsing", "int_type"} and name in {"ADMIN_IDS", "INSTALLER_IDS"}:
        message = "must be comma-separated Telegram user ids (numbers)"
    return f"{name}: {message}" if name else message
