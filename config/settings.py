"""The service's one settings object, read once from the environment, `.env` and an optional TOML file.

Every setting is documented in README.md and `config/example.env`. A broken setting stops the
start with one line per problem that names the setting and shows a valid value: never a
traceback. Secrets have no defaults; the commands that need one ask for it with `require()`,
which takes a key the environment leaves unset from Azure Key Vault when KEY_VAULT_URL is set.
"""
from __future__ import annotations

import base64
import binascii
import os
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config.key_vault import read_secret, secret_name, valid_vault_url

DEFAULT_RETENTION_POLICY = Path(__file__).with_name("retention.toml")
DEFAULT_PROCESSING_RECORD = Path(__file__).with_name("processing-record.toml")
DEFAULT_PRIVACY_NOTICE = Path(__file__).with_name("privacy-notice.txt")
DEFAULT_MAIL_TEMPLATES = Path(__file__).with_name("mail-templates")
REAL_GRAPH = "https://graph.microsoft.com/v1.0"
CONFIG_FILE_VARIABLE = "BOOKINGS_LEDGER_CONFIG"
DEFAULT_CHECKPOINT_ORIGIN = "bookings-ledger.local/ledger"

# What a valid value looks like, for the error message of each setting that can be wrong.
EXAMPLES: dict[str, str] = {
    "DATABASE_URL": "sqlite:///var/ledger.db or postgresql+psycopg://user@host:5432/ledger",
    "KEYSTORE_URL": "sqlite:///var/keys.db or postgresql+psycopg://user@host:5432/ledger_keys (not DATABASE_URL)",
    "KEYSTORE_BACKUP_RETENTION_DAYS": "0 (the key store is not backed up) or at most the erasure deadline in days",
    "GRAPH_BASE_URL": REAL_GRAPH,
    "GRAPH_CREDENTIAL": "one of auto, secret, certificate, managed_identity, static",
    "BOOKING_BUSINESSES": "bookings@contoso.com,clinic@contoso.com",
    "PUBLIC_BASE_URL": "https://ledger.contoso.com",
    "AUTH_MODE": "entra or local",
    "DASHBOARD_CLIENT_ID": "the dashboard's app registration id (a GUID)",
    "ENTRA_AUTHORITY_HOST": "https://login.microsoftonline.com",
    "SESSION_LIFETIME_MINUTES": "480 (the policy's cookies.session PT8H)",
    "SESSION_IDLE_MINUTES": "30",
    "SIGN_IN_RATE_LIMIT": "10 per minute",
    "TRUSTED_PROXY_HOPS": "1 behind one reverse proxy, 0 when clients connect directly",
    "PROCESSING_RECORD_FILE": "config/processing-record.toml",
    "PRIVACY_NOTICE_FILE": "config/privacy-notice.txt",
    "PRIVACY_MAILBOX": "privacy@contoso.com",
    "LOG_FORMAT": "json or console",
    "RETENTION_POLICY_FILE": "config/retention.toml",
    "LEDGER_MASTER_KEY": "32 random bytes in base64 (bookings-ledger keys generate)",
    "LEDGER_PREVIOUS_MASTER_KEYS": "comma-separated base64 keys, oldest first",
    "BLIND_INDEX_KEY": "32 random bytes in base64 (bookings-ledger keys generate)",
    "CHECKPOINT_SIGNING_KEY": "an Ed25519 seed, 32 bytes in base64 (bookings-ledger keys generate)",
    "CHECKPOINT_VERIFIER_KEY": "the C2SP verifier key string <origin>+<key id>+<base64 key> (bookings-ledger keys generate)",
    "DATABASE_OWNER_URL": "postgresql+psycopg://ledger_owner@host:5432/ledger (the role that owns the schema)",
    "CLIENT_STATE_KEY": "32 random bytes in base64 (bookings-ledger keys generate)",
    "CLIENT_STATE_PREVIOUS_KEYS": "comma-separated base64 keys, oldest first",
    "SECRET_KEY": "a long random string (bookings-ledger keys generate)",
    "KEY_VAULT_URL": "https://contoso-ledger.vault.azure.net (or an https loopback URL, for a test double)",
    "DEFAULT_PHONE_REGION": "a two-letter region such as GB or US",
    "LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR",
    "SUBSCRIPTION_LIFETIME_MINUTES": "4230 (Outlook events' maximum)",
    "SUBSCRIPTION_RENEWAL_MARGIN_HOURS": "24",
    "RECONCILE_DAYS_BACK": "365",
    "RECONCILE_DAYS_AHEAD": "365",
    "RECONCILE_INTERVAL_MINUTES": "1440",
    "DELTA_INTERVAL_MINUTES": "4",
    "INBOX_DONE_RETENTION_DAYS": "7",
    "JOB_RUN_RETENTION_DAYS": "30",
    "FILLED_GAP_RETENTION_DAYS": "90",
    "RETENTION_INTERVAL_MINUTES": "1440",
    "ANONYMISE_INTERVAL_MINUTES": "15",
}


# The settings that may come from Key Vault when the environment leaves them unset (config/key_vault.py).
KEY_SETTINGS = ("LEDGER_MASTER_KEY", "LEDGER_PREVIOUS_MASTER_KEYS", "BLIND_INDEX_KEY", "CHECKPOINT_SIGNING_KEY",
                "CLIENT_STATE_KEY", "CLIENT_STATE_PREVIOUS_KEYS", "SECRET_KEY")
KEY_LISTS = ("LEDGER_PREVIOUS_MASTER_KEYS", "CLIENT_STATE_PREVIOUS_KEYS")


class SettingsError(Exception):
    """A setting is missing or invalid; the message names it and shows a valid value."""


def _decode_key(value: str, size: int = 32) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None
    if len(raw) != size:
        raise ValueError(f"must decode to {size} bytes, got {len(raw)}")
    return raw


class Settings(BaseSettings):
    """All settings of bookings-ledger. Field names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True, frozen=True
    )

    DATABASE_URL: str = "sqlite:///var/ledger.db"
    # The schema owner's URL, used by `db upgrade` only; None: DATABASE_URL owns the schema itself.
    DATABASE_OWNER_URL: SecretStr | None = None
    # The data keys live in a database of their own, so a backup of DATABASE_URL never holds one.
    KEYSTORE_URL: str = "sqlite:///var/keys.db"
    # How long the key store's backups are kept: an erasure is final everywhere this long after its keys went.
    KEYSTORE_BACKUP_RETENTION_DAYS: int = Field(default=0, ge=0)
    GRAPH_BASE_URL: str = REAL_GRAPH
    GRAPH_TENANT_ID: str | None = None
    GRAPH_CLIENT_ID: str | None = None
    GRAPH_CLIENT_SECRET: SecretStr | None = None
    GRAPH_CLIENT_CERTIFICATE: Path | None = None
    GRAPH_CREDENTIAL: Literal["auto", "secret", "certificate", "managed_identity", "static"] = "auto"
    BOOKING_BUSINESSES: str = ""
    PUBLIC_BASE_URL: str = "http://127.0.0.1:8000"
    # Sign-in to the dashboard: Entra ID app roles; `local` is the demo's and `serve` refuses it unless forced.
    AUTH_MODE: Literal["entra", "local"] = "entra"
    # The dashboard's own app registration (delegated sign-in), GRAPH_CLIENT_ID / _SECRET when unset.
    DASHBOARD_CLIENT_ID: str | None = None
    DASHBOARD_CLIENT_SECRET: SecretStr | None = None
    ENTRA_AUTHORITY_HOST: str = "https://login.microsoftonline.com"
    # AUTH_MODE=local only: the password of the local accounts (the demo generates and prints it).
    LOCAL_PASSWORD: SecretStr | None = None
    SESSION_LIFETIME_MINUTES: int = Field(default=480, ge=5, le=1440)
    SESSION_IDLE_MINUTES: int = Field(default=30, ge=1, le=1440)
    SIGN_IN_RATE_LIMIT: str = "10 per minute"
    TRUSTED_PROXY_HOPS: int = Field(default=0, ge=0, le=5)
    # What the Art. 30 record needs beyond the policy: controller, DPO, recipients, transfers, security.
    PROCESSING_RECORD_FILE: Path = DEFAULT_PROCESSING_RECORD
    PRIVACY_NOTICE_FILE: Path = DEFAULT_PRIVACY_NOTICE
    # The mailbox the privacy notice points people to (requests arrive and notices leave there).
    PRIVACY_MAILBOX: str | None = None
    RETENTION_POLICY_FILE: Path = DEFAULT_RETENTION_POLICY
    LEDGER_MASTER_KEY: SecretStr | None = None
    LEDGER_PREVIOUS_MASTER_KEYS: SecretStr | None = None
    BLIND_INDEX_KEY: SecretStr | None = None
    CHECKPOINT_SIGNING_KEY: SecretStr | None = None
    # Public: what every verifier trusts. Only the checkpoint signers need CHECKPOINT_SIGNING_KEY.
    CHECKPOINT_VERIFIER_KEY: str | None = None
    CHECKPOINT_ORIGIN: str = DEFAULT_CHECKPOINT_ORIGIN
    CLIENT_STATE_KEY: SecretStr | None = None
    CLIENT_STATE_PREVIOUS_KEYS: SecretStr | None = None
    CHECKPOINT_DIR: Path = Path("var/checkpoints")
    SECRET_KEY: SecretStr | None = None
    # Where the key settings the environment leaves unset are read from; None: the environment only.
    KEY_VAULT_URL: str | None = None
    DEFAULT_PHONE_REGION: str = "US"
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    LOG_FORMAT: Literal["json", "console"] = "json"
    SUBSCRIPTION_LIFETIME_MINUTES: int = Field(default=4230, ge=45, le=10080)
    SUBSCRIPTION_RENEWAL_MARGIN_HOURS: int = Field(default=24, ge=1)
    RECONCILE_DAYS_BACK: int = Field(default=365, ge=0)
    RECONCILE_DAYS_AHEAD: int = Field(default=365, ge=1)
    RECONCILE_INTERVAL_MINUTES: int = Field(default=1440, ge=5)
    DELTA_INTERVAL_MINUTES: int = Field(default=4, ge=1, le=60)
    INBOX_DONE_RETENTION_DAYS: int = Field(default=7, ge=1)
    JOB_RUN_RETENTION_DAYS: int = Field(default=30, ge=1)
    FILLED_GAP_RETENTION_DAYS: int = Field(default=90, ge=1)
    RETENTION_INTERVAL_MINUTES: int = Field(default=1440, ge=1)
    ANONYMISE_INTERVAL_MINUTES: int = Field(default=15, ge=1)
    # Data-subject requests (issue 13; docs/requests.md). The regime a request is answered under
    # unless it names its own; each regime's working days are those of a holidays-library
    # calendar ("IE", "US-CA": country, then an optional subdivision), in REQUEST_TIME_ZONE.
    REQUEST_REGIME: Literal["gdpr", "ccpa"] = "gdpr"
    REQUEST_TIME_ZONE: str = "Europe/Dublin"
    REQUEST_HOLIDAYS_GDPR: str = "IE"
    REQUEST_HOLIDAYS_CCPA: str = "US-CA"
    REQUEST_ALERT_DAYS: int = Field(default=7, ge=1, le=60)
    REQUEST_DUPLICATE_WINDOW_DAYS: int = Field(default=30, ge=0, le=365)
    REQUEST_CONTACT_DAYS: int = Field(default=30, ge=0, le=365)
    REQUEST_DIGEST_TO: str | None = None
    REQUEST_LINK_HOURS: int = Field(default=72, ge=1, le=720)
    REQUEST_INTERVAL_MINUTES: int = Field(default=5, ge=1)
    VERIFICATION_CODE_MINUTES: int = Field(default=15, ge=5, le=60)
    VERIFICATION_ATTEMPTS: int = Field(default=3, ge=1, le=10)
    PORTAL_RATE_LIMIT: str = "5 per minute"
    API_TOKEN_DAYS: int = Field(default=90, ge=1, le=730)
    MAIL_TEMPLATES_DIR: Path = DEFAULT_MAIL_TEMPLATES
    EXPORT_DIR: Path = Path("var/exports")
    NOTICE_BATCH_SIZE: int = Field(default=100, ge=1, le=1000)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit overrides (tests) win, then the environment, then .env, then the TOML file.
        return init_settings, env_settings, dotenv_settings, _TomlFileSource(settings_cls)

    @field_validator("DATABASE_URL", "KEYSTORE_URL")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:// or postgresql+psycopg:// URL")
        return value

    @field_validator("DATABASE_OWNER_URL")
    @classmethod
    def _owner_database(cls, value: SecretStr | None) -> SecretStr | None:
        # Roles exist on PostgreSQL only; on SQLite whoever can write the file owns it.
        if value is not None and not value.get_secret_value().startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a postgresql+psycopg:// URL")
        return value

    @model_validator(mode="after")
    def _keystore_apart(self) -> Settings:
        # Keys beside the ciphertexts would put both in every backup of the main database.
        if self.KEYSTORE_URL == self.DATABASE_URL:
            raise ValueError("KEYSTORE_URL must name a database other than DATABASE_URL")
        return self

    @field_validator("GRAPH_BASE_URL", "PUBLIC_BASE_URL", "ENTRA_AUTHORITY_HOST")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("KEY_VAULT_URL")
    @classmethod
    def _vault_url(cls, value: str | None) -> str | None:
        if value is not None and not valid_vault_url(value):
            raise ValueError("must be the https URL of a vault or of a loopback double")
        return value.rstrip("/") if value else value

    @field_validator("LEDGER_MASTER_KEY", "BLIND_INDEX_KEY", "CHECKPOINT_SIGNING_KEY", "CLIENT_STATE_KEY")
    @classmethod
    def _key_of_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _decode_key(value.get_secret_value())
        return value

    @field_validator("LEDGER_PREVIOUS_MASTER_KEYS", "CLIENT_STATE_PREVIOUS_KEYS")
    @classmethod
    def _keys_of_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for key in _split(value.get_secret_value()):
                _decode_key(key)
        return value

    @field_validator("REQUEST_TIME_ZONE")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name") from None
        return value

    @field_validator("REQUEST_HOLIDAYS_GDPR", "REQUEST_HOLIDAYS_CCPA")
    @classmethod
    def _holiday_calendar(cls, value: str) -> str:
        import holidays

        country, _, subdivision = value.partition("-")
        try:
            holidays.country_holidays(country, subdiv=subdivision or None)
        except NotImplementedError:
            raise ValueError("must be a country code the holidays library knows, with an optional -SUBDIVISION") from None
        return value

    @field_validator("DEFAULT_PHONE_REGION")
    @classmethod
    def _region(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError("must be a two-letter region code")
        return value.upper()

    def require(self, name: str) -> Any:
        """The value of a setting this command cannot run without, or a SettingsError naming it."""
        value = self.secret(name) if name in KEY_SETTINGS else getattr(self, name)
        if value is None or value == "":
            vault = (f", and Key Vault {self.KEY_VAULT_URL} has no secret {secret_name(name)}"
                     if name in KEY_SETTINGS and self.KEY_VAULT_URL else "")
            raise SettingsError(f"setting {name} is required here{vault}; set it to {EXAMPLES.get(name, 'a value')}")
        return value

    def secret(self, name: str) -> SecretStr | None:
        """A key setting: from the environment, else (KEY_VAULT_URL set) the Key Vault secret of its
        name, read the first time this process asks; None when neither has it."""
        value = getattr(self, name)
        if value is not None or not self.KEY_VAULT_URL:
            return value
        raw = read_secret(self, name)
        if raw is None:
            return None
        try:
            _check_key_setting(name, raw)
        except ValueError as exc:
            raise SettingsError(f"setting {name}: Key Vault secret {secret_name(name)} {exc} "
                                f"(for example {EXAMPLES[name]})") from None
        return SecretStr(raw)

    def key(self, name: str) -> bytes:
        """A required 32-byte key setting, decoded."""
        return base64.b64decode(self.require(name).get_secret_value())

    @cached_property
    def previous_master_keys(self) -> list[bytes]:
        """Older master keys still accepted for unwrapping, until `keys rotate` re-wraps them."""
        return self._key_list("LEDGER_PREVIOUS_MASTER_KEYS")

    @cached_property
    def previous_client_state_keys(self) -> list[bytes]:
        """Older clientState keys whose hashes are still accepted while a rotation is under way."""
        return self._key_list("CLIENT_STATE_PREVIOUS_KEYS")

    def _key_list(self, name: str) -> list[bytes]:
        raw = self.secret(name)
        return [base64.b64decode(k) for k in _split(raw.get_secret_value())] if raw else []

    @property
    def booking_businesses(self) -> list[str]:
        """The configured booking business ids (their SMTP addresses)."""
        return _split(self.BOOKING_BUSINESSES)

    @property
    def uses_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")

    @property
    def database_owner_url(self) -> str:
        """The URL `db upgrade` runs the migrations as: DATABASE_OWNER_URL, else DATABASE_URL."""
        owner = self.DATABASE_OWNER_URL
        return owner.get_secret_value() if owner is not None else self.DATABASE_URL


def _check_key_setting(name: str, value: str) -> None:
    # The environment's values pass the field validators; the vault's pass the same checks here.
    if name in KEY_LISTS:
        for key in _split(value):
            _decode_key(key)
    elif name != "SECRET_KEY":
        _decode_key(value)
    elif not value:
        raise ValueError("is empty")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class _TomlFileSource(PydanticBaseSettingsSource):
    """Settings from the TOML file named by BOOKINGS_LEDGER_CONFIG, keys as the variable names."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get(CONFIG_FILE_VARIABLE)
        self._values: dict[str, Any] = {}
        if path:
            try:
                self._values = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except OSError as exc:
                raise SettingsError(f"setting {CONFIG_FILE_VARIABLE}: cannot read {path}: {exc.strerror}") from None
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"setting {CONFIG_FILE_VARIABLE}: {path} is not valid TOML: {exc}") from None

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._values.items() if k in self.settings_cls.model_fields}


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Read and validate the settings once; a SettingsError lists every problem found."""
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "settings"
        # The message never repeats the offending value: it may be a secret.
        reason = error["msg"].removeprefix("Value error, ")
        example = EXAMPLES.get(name)
        lines.append(f"setting {name}: {reason}" + (f" (for example {example})" if example else ""))
    return "\n".join(lines)
