"""The checkpoint job: sign the ledger as it stands and write the note to CHECKPOINT_DIR."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ledger.checkpoint_store import CheckpointSigner, publish_checkpoint
from ledger.transactions import Ledger


def checkpoint_job(ledger: Ledger, signer: CheckpointSigner, directory: Path) -> Callable[[], Mapping[str, Any]]:
    """A job that publishes one checkpoint per run and reports its size."""

    def run() -> Mapping[str, Any]:
        return {"size": publish_checkpoint(ledger.engine, signer, ledger.clock(), directory).size}

    return run
