"""EmulatorServer: the emulator on a local port, startable in-process or in the foreground."""

from __future__ import annotations

import threading

from .app import create_app
from .core import Emulator
from .wsgi_server import KeepAliveServer


class EmulatorServer:
    """A Graph emulator on a local port: ``with EmulatorServer() as server: server.graph_url``.

    Keyword options are :class:`emulator.options.Options` fields; ``server.emulator`` gives tests
    direct access to the state, clock, faults and subscriptions.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, seed: int | None = None, **options: object) -> None:
        self.host = host
        self.port = port
        self.emulator = Emulator(seed=seed, **options)
        self.app = create_app(self.emulator)
        self._server: KeepAliveServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port`` (token endpoint and control API live here)."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def graph_url(self) -> str:
        """Graph's root, ``base_url + "/v1.0"``."""
        return self.base_url + "/v1.0"

    def start(self) -> EmulatorServer:
        """Bind and serve in a background thread."""
        self._server = KeepAliveServer(self.host, self.port, self.app)
        self.emulator.start()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="graph-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and stop background work."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.emulator.stop()

    def serve_until_interrupted(self) -> None:
        """Block until Ctrl-C, then stop."""
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(host: str = "127.0.0.1", port: int = 8100, *, seed: int | None = None, **options: object) -> None:
    """Run an emulator in the foreground until interrupted."""
    EmulatorServer(host, port, seed=seed, **options).start().serve_until_interrupted()
