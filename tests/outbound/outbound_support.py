"""Test support for the outbound guard, with no internet: a DNS the test controls, a switchboard
that stands public addresses in for local servers, a local HTTP(S) server whose answers the test
sets path by path, and TLS certificates made on the spot."""

from __future__ import annotations

import contextlib
import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Public addresses (``is_global``) the tests pretend names resolve to; the switchboard
#: connects them to local servers, so nothing leaves the machine.
PUBLIC = "93.184.216.34"
PUBLIC_2 = "151.101.1.69"
PUBLIC_3 = "185.199.108.153"
PUBLIC_4 = "140.82.112.3"


class FakeDNS:
    """A resolver the test controls: each name gives its answers in turn (the last repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        count = self.calls.count(host)
        self.calls.append(host)
        sequence = self.answers.get(host)
        if not sequence:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(sequence[min(count, len(sequence) - 1)])


@dataclass
class Switchboard:
    """Where checked addresses are dialled: public test addresses go to local servers.

    Records every ``(address, port)`` it is asked to dial. Dialling a public address it does not
    know fails the test (no test reaches the internet); local addresses are dialled as they are
    (for servers with local endpoints allowed).
    """

    lines: dict[str, int] = field(default_factory=dict)
    dialled: list[tuple[str, int]] = field(default_factory=list)

    def connect(self, address: str, server: LocalServer) -> None:
        self.lines[address] = server.port

    def __call__(self, address: str, port: int) -> tuple[str, int]:
        self.dialled.append((address, port))
        if address in self.lines:
            return "127.0.0.1", self.lines[address]
        if ipaddress.ip_address(address).is_global:
            raise AssertionError(f"the test dialled {address}:{port}, which it did not connect")
        return address, port


@dataclass
class Seen:
    method: str
    path: str
    host: str
    body: bytes


Answer = Callable[[BaseHTTPRequestHandler], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            return  # a client that hung up on a cut answer
        super().handle_error(request, client_address)


class LocalServer:
    """An HTTP server on 127.0.0.1 (HTTPS with ``tls``): ``answers[path]`` answers a path."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.answers: dict[str, Answer] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else b""
                with server.lock:
                    server.seen.append(
                        Seen(self.command, self.path, self.headers.get("Host", ""), body)
                    )
                answer = server.answers.get(self.path)
                if answer is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                # The client may hang up (a cut answer).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    answer(self)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port: int = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        with self.lock:
            return [s.path for s in self.seen]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- answers -----------------------------------------------------------------------------------


def document(doc: Any, status: int = 200) -> Answer:
    raw = json.dumps(doc).encode()

    def answer(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/ld+json")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    return answer


def redirect(location: str, status: int = 302) -> Answer:
    def answer(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return answer


def large(size: int, *, announced: bool, status: int = 200) -> Answer:
    """``size`` bytes of JSON-ish filler, with Content-Length or chunked."""

    def answer(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        if announced:
            h.send_header("Content-Length", str(size))
            h.end_headers()
            for _ in range(size // 65536):
                h.wfile.write(b" " * 65536)
            h.wfile.write(b" " * (size % 65536))
            return
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        left = size
        while left:
            chunk = min(left, 65536)
            h.wfile.write(f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n")
            left -= chunk
        h.wfile.write(b"0\r\n\r\n")

    return answer


def gzip_bomb(size: int) -> Answer:
    """A small gzip body that decompresses to ``size`` bytes."""
    raw = gzip.compress(b" " * size)

    def answer(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    return answer


def dribble(size: int, every: float, status: int = 200) -> Answer:
    """Headers at once, then one byte every ``every`` seconds (each read is quick, the whole
    answer is not)."""

    def answer(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(size))
        h.end_headers()
        h.wfile.flush()
        for _ in range(size):
            time.sleep(every)
            h.wfile.write(b" ")
            h.wfile.flush()

    return answer


def silent(seconds: float) -> Answer:
    """No answer at all for ``seconds``, then 204."""

    def answer(h: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        h.send_response(204)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return answer


# -- TLS ---------------------------------------------------------------------------------------


@dataclass
class Certificates:
    """A test CA and a server certificate for ``name``, written under a folder."""

    ca_file: str
    cert_file: str
    key_file: str

    def server_context(self, server_names: list[str | None] | None = None) -> ssl.SSLContext:
        """A server context; the TLS server names clients present go to ``server_names``."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        if server_names is not None:
            context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
        return context


def make_certificates(folder: Path, name: str) -> Certificates:
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Qala test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = Certificates(
        ca_file=str(folder / "ca.pem"),
        cert_file=str(folder / "server.pem"),
        key_file=str(folder / "server.key"),
    )
    Path(files.ca_file).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    Path(files.cert_file).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(files.key_file).write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files
