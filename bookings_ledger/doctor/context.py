"""What the checks share: the settings (or why there are none) and the database engine once opened."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from config.settings import Settings


@dataclass
class Findings:
    """Filled in as the groups run: a later group reads what an earlier one found or could not."""

    settings: Settings | None = None
    engine: Engine | None = None  # set once the database is reachable and migrated
    database_problem: str = "the database"  # what the skipped checks name when `engine` is None

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
