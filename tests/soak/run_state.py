"""What one soak run hands to its checks (tests/soak/checks.py): the shape the contract fixes."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass
class SoakRun:
    """One soak run: where everything ran, the simulated span, and what the harness observed."""

    settings: dict[str, str]     # the service processes' environment (DATABASE_URL, KEYSTORE_URL, keys, …)
    emulator_url: str            # http://127.0.0.1:PORT (control API under /_emulator/)
    web_url: str                 # http://127.0.0.1:PORT of `serve` (API under /api/v1/)
    api_token: str               # a bearer token with requests:read, requests:write, requests:run
    log_dir: Path                # every process's output, one *.log file per process and restart
    started: datetime            # simulated UTC time the run began
    ended: datetime              # simulated UTC time the run ended
    watermark_samples: list[tuple[datetime, float]] = field(default_factory=list)  # (simulated time, lag s)
    killed: list[str] = field(default_factory=list)   # processes SIGKILLed and restarted, e.g. ["web", "worker"]
    seed: int = 0
    faults: dict[str, int] = field(default_factory=dict)   # kind -> how many the harness injected
