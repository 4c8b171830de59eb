"""Reading a TOML file a setting names into a pydantic model, with one SettingsError naming the field.

Used by the retention policy and the record of processing activities, so a broken file of either
fails the same way: `setting NAME: path: where.in.file: what is wrong`.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from config.settings import SettingsError

Model = TypeVar("Model", bound=BaseModel)


def read_toml(path: Path, setting: str) -> dict[str, Any]:
    """The file's tables; SettingsError when it cannot be read or is not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"setting {setting}: cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"setting {setting}: {path} is not valid TOML: {exc}") from None


def validated(model: type[Model], data: dict[str, Any], path: Path, setting: str) -> Model:
    """`data` as a `model`; SettingsError lists each problem with its place in the file."""
    try:
        return model(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg'].removeprefix('Value error, ')}"
            for error in exc.errors()
        )
        raise SettingsError(f"setting {setting}: {path}: {problems}") from None
