"""A threaded HTTP/1.1 keep-alive WSGI server on the standard library.

Werkzeug's development server always answers ``Connection: close``, which hides the SDK's
connection-reuse bugs (sdk-notes.md §4), so the emulator serves with this instead. Request
bodies are read in full before the app runs, so an unread body can never be mistaken for the
next request on a kept-alive connection; responses are buffered and sent with Content-Length.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote_to_bytes

_SLASHES = re.compile(r"/{2,}")
_NO_BODY = {204, 304}


class KeepAliveServer(ThreadingHTTPServer):
    """One thread per connection; connections stay open between requests."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, app: Callable) -> None:
        super().__init__((host, port), _Handler)
        self.app = app


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GraphEmulator/1.0"
    timeout = 120  # an idle kept-alive connection is closed after this many seconds
    # Headers and body go out in separate writes; with Nagle on, the second waits for the peer's
    # delayed ACK (~40 ms per request on loopback).
    disable_nagle_algorithm = True

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if self.parse_request():
                self._serve()
                self.wfile.flush()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        pass  # tests and the demo stay quiet

    def _serve(self) -> None:
        body = self._read_body()
        started: list = []
        result = self.server.app(self._environ(body), lambda status, headers, exc_info=None: started.extend((status, headers)))
        try:
            payload = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        status, headers = started
        code = int(status.split()[0])
        self.send_response(code, status.partition(" ")[2])
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(name, value)
        if code not in _NO_BODY:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code not in _NO_BODY:
            self.wfile.write(payload)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _environ(self, body: bytes) -> dict:
        path, _, query = self.path.partition("?")
        # The SDK sends '/v1.0//solutions/…' (httpx adds a slash to the base URL); Graph accepts it.
        path = _SLASHES.sub("/", path)
        environ = {
            "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query, "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
            "SERVER_NAME": self.server.server_address[0], "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version, "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ
