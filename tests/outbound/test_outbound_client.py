"""The outbound client itself: one resolution, a checked address, checked redirect hops, caps.

No test leaves the machine: names resolve through :class:`FakeDNS` and public addresses are
dialled through a :class:`Switchboard` that connects them to local servers.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from outbound_support import (
    PUBLIC,
    PUBLIC_2,
    PUBLIC_3,
    PUBLIC_4,
    FakeDNS,
    LocalServer,
    Switchboard,
    document,
    dribble,
    gzip_bomb,
    large,
    make_certificates,
    redirect,
    silent,
)

from qala.outbound import Answer, Outbound, Refused, TooLarge, TooSlow, Unreachable

NAME = "contexts.city.example"
DOC = {"@context": {"lux": "https://example.org/lux"}}


@pytest.fixture
def server() -> Iterator[LocalServer]:
    server = LocalServer()
    yield server
    server.close()


def guarded(dns: FakeDNS, board: Switchboard, **kw: Any) -> Outbound:
    return Outbound(allow_local=False, resolve=dns, route=board, **kw)


def get(outbound: Outbound, url: str, **kw: Any) -> Answer:
    options: dict[str, Any] = {
        "schemes": ("http", "https"),
        "max_redirects": 3,
        "max_bytes": 4096,
        "timeout": 2.0,
    }
    options.update(kw)
    return asyncio.run(outbound.request("GET", url, **options))


# -- DNS rebinding ------------------------------------------------------------------------------


def test_the_connection_goes_to_the_address_that_was_checked_not_to_a_second_answer(
    server: LocalServer,
) -> None:
    # Public the first time, loopback every time after: a rebinding name.
    dns = FakeDNS({NAME: [[PUBLIC], ["127.0.0.1"]]})
    board = Switchboard()
    board.connect(PUBLIC, server)
    server.answers["/ctx.jsonld"] = document(DOC)
    answer = get(guarded(dns, board), f"http://{NAME}:8080/ctx.jsonld")
    assert answer.status == 200 and b"lux" in answer.content
    assert dns.calls == [NAME]  # resolved once
    assert board.dialled == [(PUBLIC, 8080)]  # dialled the checked address, not the name
    assert server.seen[0].host == f"{NAME}:8080"  # the Host header is the URL's


def test_a_name_that_now_resolves_to_loopback_is_refused_before_any_connection(
    server: LocalServer,
) -> None:
    dns = FakeDNS({NAME: [[PUBLIC], ["127.0.0.1"]]})
    board = Switchboard()
    board.connect(PUBLIC, server)
    server.answers["/ctx.jsonld"] = document(DOC)
    outbound = guarded(dns, board)
    get(outbound, f"http://{NAME}/ctx.jsonld")
    with pytest.raises(Refused, match=r"resolves to 127\.0\.0\.1.*QALA_ALLOW_LOCAL_ENDPOINTS"):
        get(outbound, f"http://{NAME}/ctx.jsonld")
    assert board.dialled == [(PUBLIC, 80)]
    assert server.paths() == ["/ctx.jsonld"]


def test_a_name_with_any_internal_address_among_its_answers_is_refused(
    server: LocalServer,
) -> None:
    dns = FakeDNS({NAME: [[PUBLIC, "10.0.0.7"]]})
    board = Switchboard()
    board.connect(PUBLIC, server)
    with pytest.raises(Refused, match=r"10\.0\.0\.7"):
        get(guarded(dns, board), f"http://{NAME}/ctx.jsonld")
    assert board.dialled == [] and server.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/x",
        "http://0.0.0.0/x",
    ],
)
def test_literal_internal_addresses_are_refused_without_a_lookup(url: str) -> None:
    dns = FakeDNS({})
    board = Switchboard()
    with pytest.raises(Refused, match="loopback, private or reserved"):
        get(guarded(dns, board), url)
    assert dns.calls == [] and board.dialled == []


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(Refused, match=r"cannot resolve 'nowhere\.city\.example'"):
        get(guarded(FakeDNS({}), Switchboard()), "http://nowhere.city.example/x")


def test_with_local_endpoints_allowed_local_addresses_are_reached_but_still_resolved_once(
    server: LocalServer,
) -> None:
    dns = FakeDNS({"intranet.city.example": [["127.0.0.1"], ["10.9.9.9"]]})
    board = Switchboard()
    server.answers["/ctx.jsonld"] = document(DOC)
    outbound = Outbound(allow_local=True, resolve=dns, route=board)
    answer = get(outbound, f"http://intranet.city.example:{server.port}/ctx.jsonld")
    assert answer.status == 200
    assert board.dialled == [("127.0.0.1", server.port)]


def test_each_checked_address_is_tried_in_turn(server: LocalServer) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    dns = FakeDNS({NAME: [[PUBLIC_2, PUBLIC]]})
    board = Switchboard()
    board.lines[PUBLIC_2] = closed_port  # nothing listens there
    board.connect(PUBLIC, server)
    server.answers["/ctx.jsonld"] = document(DOC)
    assert get(guarded(dns, board), f"http://{NAME}/ctx.jsonld").status == 200
    assert board.dialled == [(PUBLIC_2, 80), (PUBLIC, 80)]


# -- TLS keeps the name ---------------------------------------------------------------------------


def test_https_presents_and_verifies_the_urls_host_while_dialling_the_checked_address(
    tmp_path: Path,
) -> None:
    certs = make_certificates(tmp_path, NAME)
    names: list[str | None] = []
    server = LocalServer(tls=certs.server_context(names))
    try:
        server.answers["/ctx.jsonld"] = document(DOC)
        dns = FakeDNS({NAME: [[PUBLIC]]})
        board = Switchboard()
        board.connect(PUBLIC, server)
        answer = get(guarded(dns, board, cafile=certs.ca_file), f"https://{NAME}/ctx.jsonld")
        assert answer.status == 200
        assert names == [NAME]  # the TLS server name (SNI) is the URL's host
        assert board.dialled == [(PUBLIC, 443)]
        assert server.seen[0].host == NAME
    finally:
        server.close()


def test_https_to_a_server_whose_certificate_names_another_host_fails(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path, "other.city.example")
    server = LocalServer(tls=certs.server_context())
    try:
        dns = FakeDNS({NAME: [[PUBLIC]]})
        board = Switchboard()
        board.connect(PUBLIC, server)
        with pytest.raises(Unreachable, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            get(guarded(dns, board, cafile=certs.ca_file), f"https://{NAME}/ctx.jsonld")
        assert server.seen == []
    finally:
        server.close()


def test_mqtt_tls_presents_the_broker_name_though_the_socket_dials_an_address(
    tmp_path: Path,
) -> None:
    """paho wraps the socket with the host it dialled (here an address): the context that
    :meth:`Outbound.mqtt_tls` makes presents and verifies the broker's name instead."""
    certs = make_certificates(tmp_path, "broker.city.example")
    names: list[str | None] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server_ctx = certs.server_context(names)

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    context = Outbound(cafile=certs.ca_file).mqtt_tls("broker.city.example")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.recv(2) == b"ok"
        assert tls.getpeercert()["subjectAltName"] == (("DNS", "broker.city.example"),)
    thread.join(5)
    listener.close()
    assert names == ["broker.city.example"]
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(Outbound(cafile=certs.ca_file).mqtt_tls("other.city.example"), certs)


def _handshake(context: ssl.SSLContext, certs: Any) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    server_ctx = certs.server_context()

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with (
            socket.create_connection(listener.getsockname(), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            pass
    finally:
        thread.join(5)
        listener.close()


# -- redirects ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1:{port}/internal",
        "http://[::1]/internal",
        "http://internal.city.example/internal",  # a name that resolves to a private address
    ],
)
def test_a_redirect_to_an_internal_address_is_refused_before_it_is_requested(
    server: LocalServer, location: str
) -> None:
    dns = FakeDNS({NAME: [[PUBLIC]], "internal.city.example": [["10.0.0.5"]]})
    board = Switchboard()
    board.connect(PUBLIC, server)
    server.answers["/ctx.jsonld"] = redirect(location.format(port=server.port))
    server.answers["/internal"] = document(DOC)
    with pytest.raises(Refused, match=r"redirect to .* refused: .*loopback, private or reserved"):
        get(guarded(dns, board), f"http://{NAME}/ctx.jsonld")
    assert server.paths() == ["/ctx.jsonld"]
    assert board.dialled == [(PUBLIC, 80)]


def test_public_redirects_are_followed_each_hop_resolved_and_dialled_at_its_checked_address(
    server: LocalServer,
) -> None:
    dns = FakeDNS(
        {
            NAME: [[PUBLIC]],
            "mirror.city.example": [[PUBLIC_2], ["127.0.0.1"]],
            "cdn.city.example": [[PUBLIC_3]],
        }
    )
    board = Switchboard()
    for address in (PUBLIC, PUBLIC_2, PUBLIC_3):
        board.connect(address, server)
    server.answers["/a"] = redirect("http://mirror.city.example/b", 301)
    server.answers["/b"] = redirect("/c", 307)  # relative, same host: the same connection
    server.answers["/c"] = redirect("http://cdn.city.example/d", 308)
    server.answers["/d"] = document(DOC)
    answer = get(guarded(dns, board), f"http://{NAME}/a")
    assert answer.status == 200 and answer.url == "http://cdn.city.example/d"
    assert answer.redirects == [
        "http://mirror.city.example/b",
        "http://mirror.city.example/c",
        "http://cdn.city.example/d",
    ]
    assert dns.calls == [NAME, "mirror.city.example", "cdn.city.example"]
    assert board.dialled == [(PUBLIC, 80), (PUBLIC_2, 80), (PUBLIC_3, 80)]
    assert [s.host for s in server.seen] == [
        NAME,
        "mirror.city.example",
        "mirror.city.example",
        "cdn.city.example",
    ]


def test_more_redirects_than_allowed_are_refused(server: LocalServer) -> None:
    dns = FakeDNS({NAME: [[PUBLIC]]})
    board = Switchboard()
    board.connect(PUBLIC, server)
    for n in range(4):
        server.answers[f"/{n}"] = redirect(f"/{n + 1}")
    server.answers["/4"] = document(DOC)
    with pytest.raises(Refused, match="more than 3 redirects"):
        get(guarded(dns, board), f"http://{NAME}/0")
    assert server.paths() == ["/0", "/1", "/2", "/3"]


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "gopher://mirror.city.example/", "ftp://x.example/"]
)
def test_a_redirect_to_another_scheme_is_refused(server: LocalServer, location: str) -> None:
    dns = FakeDNS({NAME: [[PUBLIC]]})
    board = Switchboard()
    board.connect(PUBLIC, server)
    server.answers["/ctx.jsonld"] = redirect(location)
    with pytest.raises(Refused, match="is not allowed here"):
        get(guarded(dns, board), f"http://{NAME}/ctx.jsonld")


def test_a_scheme_the_use_does_not_allow_is_refused() -> None:
    with pytest.raises(Refused, match="scheme 'https' is not allowed here"):
        get(guarded(FakeDNS({}), Switchboard()), f"https://{NAME}/x", schemes=("http",))


def test_without_redirects_allowed_a_redirect_is_given_back_and_its_target_never_contacted(
    server: LocalServer,
) -> None:
    board = Switchboard()
    board.connect(PUBLIC, server)
    server.answers["/notify"] = redirect("http://127.0.0.1/internal")
    answer = asyncio.run(
        guarded(FakeDNS({}), board).request(
            "POST",
            f"http://{PUBLIC}/notify",
            schemes=("http", "https"),
            max_redirects=0,
            max_bytes=1024,
            timeout=2.0,
            content=b"{}",
        )
    )
    assert answer.status == 302 and answer.redirects == []
    assert board.dialled == [(PUBLIC, 80)]
    assert server.paths() == ["/notify"]


# -- size and time caps -------------------------------------------------------------------------


def _public_server(server: LocalServer) -> Outbound:
    board = Switchboard()
    board.connect(PUBLIC, server)
    return guarded(FakeDNS({NAME: [[PUBLIC]]}), board)


def test_an_answer_announced_larger_than_the_cap_is_refused_unread(server: LocalServer) -> None:
    server.answers["/big"] = large(10_000_000, announced=True)
    with pytest.raises(TooLarge, match=r"larger than 4 KiB \(10000000 bytes\)"):
        get(_public_server(server), f"http://{NAME}/big")


def test_an_unannounced_answer_larger_than_the_cap_is_cut(server: LocalServer) -> None:
    server.answers["/big"] = large(10_000_000, announced=False)
    started = time.monotonic()
    with pytest.raises(TooLarge, match="larger than 4 KiB; cut"):
        get(_public_server(server), f"http://{NAME}/big")
    assert time.monotonic() - started < 2.0


def test_the_cap_counts_decompressed_bytes(server: LocalServer) -> None:
    server.answers["/bomb"] = gzip_bomb(5_000_000)  # about 5 KB on the wire
    with pytest.raises(TooLarge, match="larger than 64 KiB; cut"):
        get(_public_server(server), f"http://{NAME}/bomb", max_bytes=65536)


def test_an_answer_within_the_cap_is_read_whole(server: LocalServer) -> None:
    server.answers["/fits"] = large(4096, announced=False)
    assert get(_public_server(server), f"http://{NAME}/fits").content == b" " * 4096


def test_a_trickling_answer_is_cut_at_the_deadline_of_the_whole_exchange(
    server: LocalServer,
) -> None:
    # Each byte comes well within the timeout; the whole answer would take 20 s.
    server.answers["/slow"] = dribble(100, every=0.2)
    started = time.monotonic()
    with pytest.raises(TooSlow, match="no complete answer within 1 s"):
        get(_public_server(server), f"http://{NAME}/slow", timeout=1.0)
    assert time.monotonic() - started < 2.0


def test_a_silent_server_is_cut_at_the_deadline(server: LocalServer) -> None:
    server.answers["/silent"] = silent(5.0)
    started = time.monotonic()
    with pytest.raises(TooSlow, match=r"within 0\.5 s"):
        get(_public_server(server), f"http://{NAME}/silent", timeout=0.5)
    assert time.monotonic() - started < 1.5


def test_a_connection_refused_is_reported_as_unreachable() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    board = Switchboard()
    board.lines[PUBLIC_4] = port
    with pytest.raises(Unreachable, match="ConnectError"):
        get(guarded(FakeDNS({}), board), f"http://{PUBLIC_4}/x")
