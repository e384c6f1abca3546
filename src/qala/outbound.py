"""Outbound connections to hosts that API users choose: the one guarded way out of the server.

Remote ``@context`` documents, HTTP notification endpoints and MQTT notification brokers are
URLs chosen by API users. Every connection to such a host is made here, and

- the host is resolved **once** and refused unless every address it resolves to is public
  (:mod:`qala.netguard`), unless ``QALA_ALLOW_LOCAL_ENDPOINTS``;
- the connection goes to an address that was checked: the HTTP and MQTT libraries are handed
  the address, never the name, so a name cannot resolve to a public address for the check and
  to an internal one for the connection (DNS rebinding). The ``Host`` header and the TLS server
  name (SNI, and the name the certificate is verified against) stay the URL's host;
- every redirect hop is checked the same way before it is requested (the check is part of
  opening each connection), or redirects are refused where the use does not need them;
- each use names the schemes it allows, the most redirects it follows, the largest answer it
  reads (decompressed) and the longest the whole exchange may take; beyond, the exchange is cut
  with an :class:`OutboundError` that says why;
- environment proxies are ignored: a proxy would resolve the name again.

Connections the operator configures (the OIDC JWKS URL, the IoT MQTT broker) are not user
choices and do not come through here; ``tests/outbound/test_one_way_out.py`` reads the sources
and fails when anything else connects out.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from qala.netguard import RefusedAddress, Resolve, checked_addresses, system_resolve

#: Where a checked ``(address, port)`` is dialled. The identity in the server; tests stand a
#: public address in for a local server with it.
Route = Callable[[str, int], tuple[str, int]]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class OutboundError(Exception):
    """A user-chosen URL was refused or could not be fetched; the message says why."""


class Refused(OutboundError):
    """Not contacted: a refused address, scheme or redirect."""


class TooLarge(OutboundError):
    """The answer is larger than the use allows; it was not read further."""


class TooSlow(OutboundError):
    """The exchange did not finish within the time the use allows."""


class Unreachable(OutboundError):
    """The connection failed or broke (refused, reset, TLS, protocol error)."""


@dataclass(slots=True)
class Answer:
    """A complete HTTP answer, read within the caps."""

    status: int
    headers: httpx.Headers
    content: bytes
    #: The URL that answered (the last hop).
    url: str
    #: The redirect hops followed, in order.
    redirects: list[str] = field(default_factory=list)


def _same(address: str, port: int) -> tuple[str, int]:
    return address, port


class Outbound:
    """The guard and the clients for one capability's user-chosen URLs.

    ``resolve`` and ``route`` are read at every connection, so a test may replace them on a
    running server.
    """

    def __init__(
        self,
        *,
        allow_local: bool = False,
        resolve: Resolve | None = None,
        route: Route | None = None,
        cafile: str | None = None,
    ) -> None:
        self.allow_local = allow_local
        self.resolve: Resolve = resolve or system_resolve
        self.route: Route = route or _same
        #: CA bundle TLS servers are verified against (None: certifi's for HTTP, as httpx
        #: does, and the system's for MQTT).
        self.cafile = cafile

    async def addresses(self, host: str, port: int) -> list[str]:
        """``host`` resolved once, every address checked (RefusedAddress otherwise)."""
        return await checked_addresses(
            host, port, allow_local=self.allow_local, resolve=self.resolve
        )

    # -- HTTP -------------------------------------------------------------------------------

    def client(
        self,
        *,
        timeout: float,
        max_connections: int = 8,
        headers: dict[str, str] | None = None,
    ) -> httpx.AsyncClient:
        """A client whose every connection goes to a checked address; it follows no redirect.

        Pass it to :meth:`request` to reuse connections across requests (a connection stays on
        the address it was opened to).
        """
        return httpx.AsyncClient(
            transport=_PinnedTransport(self, max_connections=max_connections),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers=headers,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        schemes: Sequence[str],
        max_redirects: int,
        max_bytes: int,
        timeout: float,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> Answer:
        """Send one request to ``url``, following up to ``max_redirects`` checked redirects.

        With ``max_redirects=0`` a redirect is given back as it is (the caller refuses it).
        ``timeout`` bounds the whole exchange, hops and body included. ``client`` must come
        from :meth:`client` (one is made for this request otherwise).
        """
        own = client is None
        http = client if client is not None else self.client(timeout=timeout)
        try:
            async with asyncio.timeout(timeout):
                return await self._exchange(
                    http, method, url, schemes, max_redirects, max_bytes, headers, content
                )
        except (TimeoutError, httpx.TimeoutException):
            raise TooSlow(f"no complete answer within {timeout:g} s") from None
        finally:
            if own:
                await http.aclose()

    async def _exchange(
        self,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        schemes: Sequence[str],
        max_redirects: int,
        max_bytes: int,
        headers: dict[str, str] | None,
        content: bytes | None,
    ) -> Answer:
        current = url
        redirects: list[str] = []
        while True:
            target = _url(current, schemes, first=not redirects)
            request = http.build_request(method, target, headers=headers, content=content)
            try:
                response = await http.send(request, stream=True)
            except RefusedAddress as exc:
                where = f"redirect to {current!r}" if redirects else "address"
                raise Refused(f"{where} refused: {exc}") from None
            except httpx.TimeoutException:
                raise
            except httpx.HTTPError as exc:
                raise Unreachable(f"{type(exc).__name__}: {exc}".strip(": ")) from None
            try:
                if (
                    max_redirects
                    and response.status_code in REDIRECT_STATUSES
                    and "location" in response.headers
                ):
                    if len(redirects) >= max_redirects:
                        raise Refused(f"more than {max_redirects} redirects")
                    await _read(response, max_bytes)  # so that the connection can be reused
                    current = str(response.url.join(response.headers["location"]))
                    redirects.append(current)
                    if response.status_code == 303 or (
                        response.status_code in (301, 302) and method == "POST"
                    ):
                        method, content = "GET", None
                    continue
                body = await _read(response, max_bytes)
            except httpx.TimeoutException:
                raise
            except httpx.HTTPError as exc:
                raise Unreachable(f"{type(exc).__name__}: {exc}".strip(": ")) from None
            finally:
                await response.aclose()
            return Answer(response.status_code, response.headers, body, current, redirects)

    # -- MQTT -------------------------------------------------------------------------------

    async def mqtt_connect(self, *, scheme: str, host: str, port: int, **options: Any) -> Any:
        """A connected ``aiomqtt.Client`` for the broker at ``host``: the TCP connection goes to
        a checked address (the addresses are tried in order), TLS (``mqtts``) presents and
        verifies ``host``. ``options`` go to ``aiomqtt.Client``. Raises :class:`Refused`, or
        ``aiomqtt.MqttError`` when no address answers."""
        import aiomqtt

        if scheme not in ("mqtt", "mqtts"):
            raise Refused(f"scheme {scheme!r} is not an MQTT scheme")
        try:
            addresses = await self.addresses(host, port)
        except RefusedAddress as exc:
            raise Refused(f"address refused: {exc}") from None
        failure: aiomqtt.MqttError | None = None
        for address in addresses:
            dial, dial_port = self.route(address, port)
            client = aiomqtt.Client(
                dial,
                dial_port,
                tls_context=self.mqtt_tls(host) if scheme == "mqtts" else None,
                **options,
            )
            try:
                await client.__aenter__()
            except aiomqtt.MqttError as exc:
                failure = exc
                continue
            return client
        assert failure is not None
        raise failure

    def mqtt_tls(self, server_name: str) -> ssl.SSLContext:
        """A TLS context for MQTT that presents and verifies ``server_name`` whatever address
        the socket is connected to (paho would otherwise use the address it dialled)."""
        context = _ServerNameContext(ssl.PROTOCOL_TLS_CLIENT)
        context.server_name = server_name
        if self.cafile:
            context.load_verify_locations(cafile=self.cafile)
        else:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        return context


def _url(url: str, schemes: Iterable[str], *, first: bool) -> httpx.URL:
    what = "URL" if first else "redirect"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise Refused(f"{what} {url!r} is not a valid URL: {exc}") from None
    allowed = tuple(schemes)
    if parsed.scheme not in allowed:
        raise Refused(
            f"{what} {url!r}: scheme {parsed.scheme or '(none)'!r} is not allowed here "
            f"(only {', '.join(allowed)})"
        )
    if not parsed.host:
        raise Refused(f"{what} {url!r} has no host")
    return parsed


async def _read(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, decompressed, refused beyond ``max_bytes`` (announced or actual)."""
    announced = response.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise TooLarge(f"the answer is larger than {_size(max_bytes)} ({announced} bytes)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(f"the answer is larger than {_size(max_bytes)}; cut")
        chunks.append(chunk)
    return b"".join(chunks)


def _size(count: int) -> str:
    if count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB"
    if count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens each connection to a checked address of the origin's host.

    httpcore asks for ``host`` (the URL's) and keeps using it for SNI and certificate checks;
    this backend resolves it once, checks every address and dials only those.
    """

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self.outbound.addresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            dial, dial_port = self.outbound.route(address, port)
            try:
                return await self.inner.connect_tcp(
                    dial,
                    dial_port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("Unix sockets are not outbound endpoints")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool that opens connections with _PinnedBackend."""

    def __init__(self, outbound: Outbound, *, max_connections: int) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=(
                ssl.create_default_context(cafile=outbound.cafile)
                if outbound.cafile
                else httpx.create_ssl_context()
            ),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=_PinnedBackend(outbound),
        )


class _ServerNameContext(ssl.SSLContext):
    """Wraps sockets with ``server_name`` as the TLS server name, whatever the caller asks."""

    server_name: str = ""

    def wrap_socket(  # type: ignore[override]
        self,
        sock: Any,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | None = None,
        session: Any = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(
            sock,
            server_side=server_side,
            do_handshake_on_connect=do_handshake_on_connect,
            suppress_ragged_eofs=suppress_ragged_eofs,
            server_hostname=self.server_name or server_hostname,
            session=session,
        )
