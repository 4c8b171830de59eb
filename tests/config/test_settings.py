"""Settings: defaults run the demo; broken settings fail with one clear line naming the setting."""
import base64

import pytest

from config import SettingsError, load_settings

KEY = base64.b64encode(bytes(range(32))).decode()


def test_defaults_run_the_demo_on_sqlite(monkeypatch):
    """With nothing configured the service uses SQLite at var/ledger.db, and Entra sign-in (local is the demo's choice)."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.DATABASE_URL == "sqlite:///var/ledger.db"
    assert settings.AUTH_MODE == "entra"


def test_environment_overrides_defaults(monkeypatch):
    monkeypatch.setenv("BOOKING_BUSINESSES", "a@contoso.com, b@contoso.com,")
    assert load_settings().booking_businesses == ["a@contoso.com", "b@contoso.com"]


def test_toml_file_is_read_below_the_environment(monkeypatch, tmp_path):
    """BOOKINGS_LEDGER_CONFIG names a TOML file; the environment still wins over it."""
    path = tmp_path / "ledger.toml"
    path.write_text('PUBLIC_BASE_URL = "https://ledger.contoso.com/"\nLOG_LEVEL = "DEBUG"\n')
    monkeypatch.setenv("BOOKINGS_LEDGER_CONFIG", str(path))
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    settings = load_settings()
    assert settings.PUBLIC_BASE_URL == "https://ledger.contoso.com"
    assert settings.LOG_LEVEL == "ERROR"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://root@localhost/x", "sqlite:// or postgresql+psycopg://"),
        ("GRAPH_BASE_URL", "graph.microsoft.com", "absolute http(s) URL"),
        ("AUTH_MODE", "ldap", "'entra' or 'local'"),
        ("LEDGER_MASTER_KEY", "not base64!", "not valid base64"),
        ("BLIND_INDEX_KEY", base64.b64encode(b"short").decode(), "must decode to 32 bytes"),
        ("DEFAULT_PHONE_REGION", "GBR", "two-letter region"),
    ],
)
def test_broken_setting_names_itself_and_a_valid_value(name, value, expected):
    with pytest.raises(SettingsError) as caught:
        load_settings({name: value})
    message = str(caught.value)
    assert message.startswith(f"setting {name}: ")
    assert expected in message
    assert "for example" in message


def test_error_never_repeats_a_secret_value():
    """A wrong key is a secret that was mistyped: the message must not print it."""
    secret = "c2VjcmV0LXRoYXQtaXMtdG9vLXNob3J0"
    with pytest.raises(SettingsError) as caught:
        load_settings({"LEDGER_MASTER_KEY": secret})
    assert secret not in str(caught.value)


def test_missing_secret_is_required_by_name():
    """Secrets have no default; the command that needs one stops with one line naming it."""
    settings = load_settings({"LEDGER_MASTER_KEY": None})
    with pytest.raises(SettingsError, match="setting LEDGER_MASTER_KEY is required"):
        settings.key("LEDGER_MASTER_KEY")
    assert load_settings({"LEDGER_MASTER_KEY": KEY}).key("LEDGER_MASTER_KEY") == bytes(range(32))


def test_unreadable_config_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOKINGS_LEDGER_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="BOOKINGS_LEDGER_CONFIG: cannot read"):
        load_settings()


def test_default_retention_policy_file_exists():
    assert load_settings().RETENTION_POLICY_FILE.is_file()
