"""A Key Vault double over real HTTPS on a loopback port, speaking the secrets REST shape.

It answers as the real service does (Key Vault REST, secrets "Get Secret"):

- `GET /secrets/{name}[/{version}]?api-version=…` without a bearer token: 401 with the challenge
  `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/{tenant}",
  resource="https://vault.azure.net"`, which the SDK answers with a token for
  https://vault.azure.net/.default and the request again;
- with a token: 200 `{"value", "id", "attributes"}`, or 404 `SecretNotFound`;
- no api-version: 400.

Key Vault is https only (the SDK refuses anything else), so the double serves a self-signed
certificate for 127.0.0.1; a process trusts it through REQUESTS_CA_BUNDLE. `reads` lists, in
order, the secret names asked for with a token: what the process now holds.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHALLENGE = f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", resource="https://vault.azure.net"'
VERSION = "4387e9f3d6e14c459867679a90fd0f79"


def worker_ports(first: int, count: int) -> Iterator[int]:
    """`count` ports of the keyvault range (18100-18199) for this xdist worker alone: gw0 gets
    first…first+count-1, gw1 the next `count`, and so on."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    return iter(range(first + count * worker, first + count * (worker + 1)))


class KeyVaultDouble:
    """`with KeyVaultDouble(tmp_path, port, secrets) as vault:` serves `secrets` at `vault.url`."""

    def __init__(self, directory: Path, port: int, secrets: dict[str, str]) -> None:
        self.secrets = dict(secrets)
        self.reads: list[str] = []
        self.unauthorized = 0  # challenges answered: the SDK must meet one before it sends a token
        self.certificate = directory / "vault-double.pem"
        key_file = directory / "vault-double-key.pem"
        _self_signed(self.certificate, key_file)
        self._server = make_server("127.0.0.1", port, self._app, threaded=True,
                                   ssl_context=(str(self.certificate), str(key_file)))
        self.url = f"https://127.0.0.1:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="key-vault-double", daemon=True)

    def __enter__(self) -> KeyVaultDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()  # frees the port for the next double
        self._thread.join(timeout=5)

    @Request.application
    def _app(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if request.method != "GET" or parts[0] != "secrets" or len(parts) not in (2, 3):
            return _error(404, "NotFound", "no such operation in this double")
        if "api-version" not in request.args:
            return _error(400, "BadParameter", "The request is missing the api-version query parameter.")
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            self.unauthorized += 1
            answer = _error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
            answer.headers["WWW-Authenticate"] = CHALLENGE
            return answer
        name = parts[1]
        self.reads.append(name)
        if name not in self.secrets:
            return _error(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault.")
        now = int(dt.datetime.now(dt.timezone.utc).timestamp())
        return _json(200, {"value": self.secrets[name], "id": f"{self.url}/secrets/{name}/{VERSION}",
                           "attributes": {"enabled": True, "created": now, "updated": now,
                                          "recoveryLevel": "Recoverable+Purgeable"}, "tags": {}})


def _json(status: int, body: dict) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message}})


def _self_signed(certificate: Path, key_file: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
