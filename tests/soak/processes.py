"""The soak's process tree: each service process started through launch.py, one log file per
process and restart, SIGKILL and restart by name, and an orderly stop of everything."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


class ProcessTree:
    """Named service processes on one environment; `log_dir/NAME-N.log` is the Nth start of NAME."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        self.log_dir = log_dir
        self.commands: dict[str, list[str]] = {}
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.starts: Counter[str] = Counter()

    def run(self, name: str, argv: list[str], timeout: float = 300) -> str:
        """Run a command to its end (its output logged too); its stdout, or RuntimeError naming it."""
        log = self._log(name)
        done = subprocess.run(self._argv(argv), env=self.env, capture_output=True, timeout=timeout, cwd=ROOT)
        log.write_bytes(done.stdout + done.stderr)
        if done.returncode:
            raise RuntimeError(f"{name} exited {done.returncode}; see {log}")
        return done.stdout.decode()

    def start(self, name: str, argv: list[str]) -> None:
        self.commands[name] = argv
        with self._log(name).open("wb") as log:
            self.running[name] = subprocess.Popen(self._argv(argv), env=self.env, stdout=log,
                                                  stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)

    def kill_and_restart(self, name: str) -> None:
        """SIGKILL the process (and its children: gunicorn's workers), then start it again."""
        process = self.running[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self.start(name, self.commands[name])

    def alive(self) -> dict[str, int | None]:
        """Each process's exit code, None while it runs."""
        return {name: process.poll() for name, process in self.running.items()}

    def stop_all(self, grace: float = 20) -> None:
        for process in self.running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.running.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def _argv(self, argv: list[str]) -> list[str]:
        return [sys.executable, str(HERE / "launch.py"), *argv]

    def _log(self, name: str) -> Path:
        self.starts[name] += 1
        return self.log_dir / f"{name}-{self.starts[name]}.log"
