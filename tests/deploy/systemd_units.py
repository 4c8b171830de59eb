"""deploy/'s unit files run the way systemd runs them, where systemd cannot run here.

This machine has systemd's binaries but PID 1 is not systemd and there is no user bus (`systemd
--user` exits 1 at once), so `systemd-analyze verify` checks the files and this module starts
them. It follows systemd.unit(5), systemd.service(5), systemd.exec(5) and systemd.kill(5) for what
decides whether a process starts and stops cleanly:

- `[Unit]` Requires= and After=: a required unit is started first, and must be ordered before;
  a target's Wants= and the enabled units whose `[Install]` WantedBy= names it.
- `[Service]` Type=simple (started once forked) and Type=oneshot (started once it exited 0);
  EnvironmentFile= (a `-` prefix: may be missing), Environment=, WorkingDirectory=,
  StateDirectory= (created, with StateDirectoryMode=), ExecStartPre= then ExecStart= with the
  specifiers %i %I %n %N %p %% and `$VAR` (split into words) / `${VAR}` (one word) from that
  environment, over systemd's clean environment (no variable of the caller's shell leaks in).
- Stopping: KillSignal= to the main process (KillMode=mixed) or to the whole process group
  (KillMode=control-group, the default), SIGKILL to the group once TimeoutStopSec= has passed.

User=, the sandboxing directives and Restart= are systemd's alone; `systemd-analyze verify`
checks them. Paths under the install locations (/opt/bookings-ledger/venv, /etc/bookings-ledger,
/var/lib/bookings-ledger) are moved to the test's through `roots`, nothing else is rewritten.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

# systemd's default PATH for services (systemd.exec(5), "Environment variables in spawned processes").
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_TIMESPAN = {"us": 1e-6, "ms": 1e-3, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "hr": 3600}


@dataclass
class Unit:
    """One parsed unit file: each key's values in order (a key may repeat; an empty value resets it)."""

    name: str
    sections: dict[str, dict[str, list[str]]]

    def values(self, section: str, key: str) -> list[str]:
        return self.sections.get(section, {}).get(key, [])

    def value(self, section: str, key: str, default: str = "") -> str:
        found = self.values(section, key)
        return found[-1] if found else default

    def names(self, section: str, key: str) -> list[str]:
        """A space-separated list setting (Requires=, After=, WantedBy=), every occurrence joined."""
        return [name for value in self.values(section, key) for name in value.split()]


@dataclass
class Stopped:
    """How a stop went: the exit status, how long it took, whether systemd would have had to SIGKILL."""

    returncode: int
    seconds: float
    timed_out: bool


@dataclass
class _Running:
    unit: Unit
    process: subprocess.Popen[bytes] | None     # None: an exited oneshot that remains active
    environment: dict[str, str] = field(default_factory=dict)


def parse_unit(path: Path, name: str | None = None) -> Unit:
    """Parse a unit file (systemd.syntax(7)): sections, `Key=value`, `#`/`;` comments, `\\` continuations."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    text = re.sub(r"\\\n", " ", path.read_text())
    for line in (raw.strip() for raw in text.splitlines()):
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        if current is None or "=" not in line:
            raise ValueError(f"{path.name}: not a setting: {line!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        current[key] = [] if value == "" else [*current.get(key, []), value]
    return Unit(name or path.name, sections)


def parse_environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as EnvironmentFile= reads them: comments, blank lines, one level of quotes."""
    environment: dict[str, str] = {}
    for line in (raw.strip() for raw in path.read_text().splitlines()):
        if not line or line.startswith(("#", ";")):
            continue
        key, separator, value = line.partition("=")
        if not separator:
            raise ValueError(f"{path.name}: not KEY=VALUE: {line.split('=')[0][:20]!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        environment[key.strip()] = value
    return environment


def timespan_seconds(value: str) -> float:
    """systemd.time(7) time spans: "90s", "5min", "1min 30s"; a bare number is seconds."""
    if value.strip().isdigit():
        return float(value)
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", value)
    if not parts or "".join(n + u for n, u in parts) != re.sub(r"\s", "", value):
        raise ValueError(f"not a time span: {value!r}")
    return sum(float(number) * _TIMESPAN[unit] for number, unit in parts)


def expand_command(line: str, environment: dict[str, str], specifiers: dict[str, str]) -> tuple[bool, list[str]]:
    """An Exec*= line as argv, and whether a failure is ignored (the `-` prefix)."""
    ignore_failure = line.startswith("-")
    line = line.removeprefix("-")
    if line[:1] in "@:+!":
        raise NotImplementedError(f"Exec prefix {line[0]!r} is not modelled here")
    line = re.sub(r"%(.)", lambda m: specifiers[m.group(1)], line)
    argv: list[str] = []
    for word in shlex.split(line):
        whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if whole:   # $VAR alone is split at whitespace into words; unset, it is no word at all
            argv.extend(environment.get(whole.group(1), "").split())
        else:       # ${VAR} is substituted inside its word; unset, it is empty
            argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: environment.get(m.group(1), ""), word))
    return ignore_failure, argv


class UnitRunner:
    """Starts and stops the units of one directory as real processes, each logging to `log_dir`."""

    def __init__(self, unit_dir: Path, roots: dict[str, Path], log_dir: Path) -> None:
        self.unit_dir, self.roots, self.log_dir = unit_dir, roots, log_dir
        self.enabled: list[str] = []
        self.running: dict[str, _Running] = {}

    def unit(self, name: str) -> Unit:
        """The unit `name`; an instance (`worker@2.service`) is read from its template (`worker@.service`)."""
        template = re.sub(r"@[^.]+\.", "@.", name)
        return parse_unit(self.unit_dir / template, name)

    def enable(self, name: str, target: str) -> None:
        """`systemctl enable NAME`: only a unit whose [Install] WantedBy= names the target joins it."""
        if target not in self.unit(name).names("Install", "WantedBy"):
            raise AssertionError(f"{name} is not WantedBy={target}")
        self.enabled.append(name)

    def start(self, name: str, *, as_name: str | None = None) -> None:
        """Start `name` after what it requires (`as_name`: a second copy, as on another host)."""
        key = as_name or name
        if key in self.running:
            return
        unit = self.unit(name)
        wanted = unit.names("Unit", "Requires") + unit.names("Unit", "Wants")
        if name.endswith(".target"):
            wanted += [n for n in self.enabled if n not in wanted]
        for dependency in self._ordered(unit, wanted):
            self.start(dependency)
        if name.endswith(".target"):
            self.running[key] = _Running(unit, None)
            return
        self.running[key] = self._exec(unit, key)

    def _ordered(self, unit: Unit, wanted: list[str]) -> list[str]:
        """Wanted units that exist here, those this unit is ordered after (After=) first."""
        for required in unit.names("Unit", "Requires"):
            if required not in unit.names("Unit", "After"):
                raise AssertionError(f"{unit.name} Requires={required} without After=: systemd would start both at once")
        local = [n for n in wanted if (self.unit_dir / re.sub(r"@[^.]+\.", "@.", n)).exists()]
        return sorted(local, key=lambda n: n not in unit.names("Unit", "After"))

    def _exec(self, unit: Unit, key: str) -> _Running:
        environment = self._environment(unit)
        working = self._path(unit.value("Service", "WorkingDirectory", "/"))
        with (self.log_dir / f"{key}.log").open("ab") as log:
            return self._spawn(unit, environment, working, log)

    def _spawn(self, unit: Unit, environment: dict[str, str], working: Path, log: IO[bytes]) -> _Running:
        instance = unit.name.partition("@")[2].rpartition(".")[0]
        prefix = unit.name.partition("@")[0] if "@" in unit.name else unit.name.rpartition(".")[0]
        specifiers = {"i": instance, "I": instance, "n": unit.name, "N": unit.name.rpartition(".")[0], "p": prefix,
                      "%": "%"}
        for line in unit.values("Service", "ExecStartPre"):
            ignore, argv = expand_command(line, environment, specifiers)
            code = subprocess.run(self._argv(argv), env=environment, cwd=working, stdout=log, stderr=log).returncode
            if code != 0 and not ignore:
                raise AssertionError(f"{unit.name}: ExecStartPre {argv[0]} exited {code}")
        commands = unit.values("Service", "ExecStart")
        if len(commands) != 1:
            raise AssertionError(f"{unit.name}: one ExecStart= expected, found {len(commands)}")
        _, argv = expand_command(commands[0], environment, specifiers)
        process = subprocess.Popen(self._argv(argv), env=environment, cwd=working, stdout=log, stderr=log,
                                   start_new_session=True)   # its own process group: its "cgroup"
        if unit.value("Service", "Type", "simple") == "oneshot":
            code = process.wait(timespan_seconds(unit.value("Service", "TimeoutStartSec", "90s")))
            if code != 0:
                raise AssertionError(f"{unit.name} exited {code}: see {log.name}")
            if unit.value("Service", "RemainAfterExit") not in ("yes", "true", "1", "on"):
                raise AssertionError(f"{unit.name}: a oneshot others require must RemainAfterExit=yes")
            return _Running(unit, None, environment)
        return _Running(unit, process, environment)

    def _environment(self, unit: Unit) -> dict[str, str]:
        environment = {"PATH": SYSTEMD_PATH}
        for directory in unit.values("Service", "StateDirectory"):
            path = self._path(f"/var/lib/{directory}")
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(int(unit.value("Service", "StateDirectoryMode", "0755"), 8))
            environment["STATE_DIRECTORY"] = str(path)
        for entry in unit.values("Service", "EnvironmentFile"):
            optional = entry.startswith("-")
            path = self._path(entry.removeprefix("-"))
            if path.exists():
                environment.update(parse_environment_file(path))
            elif not optional:
                raise AssertionError(f"{unit.name}: EnvironmentFile {entry} is missing")
        for entry in unit.values("Service", "Environment"):
            environment.update(dict(word.split("=", 1) for word in shlex.split(entry)))
        return environment

    def _path(self, path: str) -> Path:
        for root, replacement in self.roots.items():
            if path == root or path.startswith(root + "/"):
                return Path(str(replacement) + path[len(root):])
        return Path(path)

    def _argv(self, argv: list[str]) -> list[str]:
        if not argv[0].startswith("/"):
            raise AssertionError(f"ExecStart must name an absolute path, not {argv[0]!r}")
        return [str(self._path(argv[0])), *argv[1:]]

    def process(self, key: str) -> subprocess.Popen[bytes]:
        running = self.running[key].process
        assert running is not None, f"{key} has no main process"
        return running

    def stop(self, key: str) -> Stopped:
        """`systemctl stop`: KillSignal= as KillMode= says, SIGKILL to the group after TimeoutStopSec=."""
        running = self.running.pop(key)
        if running.process is None:
            return Stopped(0, 0.0, False)
        unit, process = running.unit, running.process
        number = signal.Signals[unit.value("Service", "KillSignal", "SIGTERM")]
        timeout = timespan_seconds(unit.value("Service", "TimeoutStopSec", "90s"))
        began = time.monotonic()
        if unit.value("Service", "KillMode", "control-group") == "mixed":
            process.send_signal(number)
        else:
            os.killpg(process.pid, number)
        try:
            process.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
        seconds = time.monotonic() - began
        try:
            os.killpg(process.pid, signal.SIGKILL)   # what is left of the group, as systemd does
        except ProcessLookupError:
            pass
        process.wait()
        return Stopped(process.returncode, seconds, timed_out)

    def stop_all(self) -> dict[str, Stopped]:
        """`systemctl stop` of everything, as systemd orders it: a unit ordered After= another stops first,
        units with no order between them stop at the same time."""
        stopped: dict[str, Stopped] = {}
        while self.running:
            after = {n for r in self.running.values() for n in r.unit.names("Unit", "After")}
            wave = [key for key, r in self.running.items() if r.unit.name not in after] or list(self.running)
            with ThreadPoolExecutor(len(wave)) as pool:
                stopped.update(zip(wave, pool.map(self.stop, wave)))
        return stopped
