"""Where the crash drivers die: a SIGKILL on the nth call, placed before a recording method.

Used by the driver scripts the crash tests start as subprocesses (anonymise_crash_driver.py,
request_crash_driver.py); each is run as a script, so this module is found beside it.
"""
from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

from connector import RetryPolicy

# Retries short enough that a killed run's successor gets going quickly.
FAST = RetryPolicy(max_attempts=4, max_total=10.0, backoff_base=0.05, backoff_max=0.2, jitter=0.05)


def countdown(n: int) -> Callable[..., None]:
    """A callable that SIGKILLs this process the nth time it is called."""
    left = [n]

    def tick(*_: object) -> None:
        left[0] -= 1
        if left[0] == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    return tick


def killing_before(tick: Callable[..., None], record: Callable[..., Any]) -> Callable[..., Any]:
    """A method that counts towards the kill before it records (a step-boundary kill)."""
    def killing(self: Any, *args: Any, **kwargs: Any) -> Any:
        tick()
        return record(self, *args, **kwargs)
    return killing
