"""The web process may import the connector's package without paying for msgraph."""
from __future__ import annotations

import subprocess
import sys


def test_importing_the_connector_loads_no_sdk() -> None:
    code = ("import sys, connector; heavy = sorted({m.split('.')[0] for m in sys.modules} & "
            "{'msgraph', 'msgraph_core', 'kiota_abstractions', 'kiota_http', 'azure'}); print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
