"""Puts tests/ and tests/jobs/ on sys.path: the soak reuses the jobs tests' personal data scanner
(tests/personal_data_scan.py) and projection comparison (tests/jobs/projection_check.py) rather
than copying them, and its harness imports these modules outside pytest too."""
from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).parents[1]


def reuse_jobs_tests() -> None:
    """Make the shared test modules importable (idempotent)."""
    # tests/ has folders named as the product's packages (config, jobs, ledger …): without the
    # repository's root ahead of it, `import config` would find tests/config as a namespace package.
    if str(_TESTS.parent) not in sys.path:
        sys.path.insert(0, str(_TESTS.parent))
    for folder in (_TESTS, _TESTS / "jobs"):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
