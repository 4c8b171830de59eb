"""Every setting is documented: in the README's table and in config/example.env."""
from pathlib import Path

from config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"| `{name}` |" not in readme]
    assert missing == []


def test_example_env_lists_exactly_the_settings():
    lines = (ROOT / "config" / "example.env").read_text(encoding="utf-8").splitlines()
    assignments = (line.lstrip("# ").split("=", 1)[0] for line in lines if "=" in line)
    names = {name for name in assignments if name.replace("_", "").isalpha() and name.isupper()}
    assert names == set(Settings.model_fields)
