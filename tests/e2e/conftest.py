"""The journeys use the jobs' fixtures (an emulator over loopback HTTP, the real web app, a ledger on
both backends, a connector): they are loaded from tests/jobs/conftest.py rather than copied."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_JOBS = Path(__file__).resolve().parent.parent / "jobs"
sys.path.insert(0, str(_JOBS))   # the jobs' helper modules (anonymise_fixtures, request_fixtures)
sys.path.insert(0, str(_JOBS.parent / "ledger"))   # the carving tools live with the ledger's tests
_spec = importlib.util.spec_from_file_location("jobs_fixtures", _JOBS / "conftest.py")
assert _spec is not None and _spec.loader is not None
jobs_fixtures = sys.modules["jobs_fixtures"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(jobs_fixtures)

from jobs_fixtures import (  # noqa: E402 - after the path it needs
    _emulator, control, emulator, graph, graph_clock, ingestor, make_services, retry_policy, service,
)

# Fixtures are found by name in a conftest: re-exported, not called here.
__all__ = ["_emulator", "control", "emulator", "graph", "graph_clock", "ingestor", "make_services", "retry_policy",
           "service"]
