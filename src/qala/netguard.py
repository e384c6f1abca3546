"""Address classification for outbound requests: which addresses a user-chosen URL may reach.

Remote ``@context`` documents and notification endpoints are URLs chosen by API users; without a
guard, a user could make the server call services on its own network (SSRF). This module says
which addresses are public and resolves a host once into checked addresses; the connections
themselves are made by :mod:`qala.outbound`, which connects only to addresses checked here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

#: Resolves ``(host, port)`` into IP addresses, in the order they are to be tried.
Resolve = Callable[[str, int], Awaitable[list[str]]]


class RefusedAddress(ValueError):
    """The URL points at an address the server is not allowed to contact."""


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP address) is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast



def ip_literal(host: str) -> str | None:
    """``host`` as an IP address if it is written as one (``[::1]`` too), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the operating system's resolver gives for ``host``, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def checked_addresses(
    host: str, port: int, *, allow_local: bool, resolve: Resolve = system_resolve
) -> list[str]:
    """Resolve ``host`` once; its addresses, each checked (connect to these and no other).

    Raises :class:`RefusedAddress` if the host cannot be resolved or if any of its addresses is
    not public — unless ``allow_local`` (tests, the demo, closed networks).
    """
    literal = ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            raise RefusedAddress(f"cannot resolve {host!r}: {exc.strerror or exc}") from exc
    if not addresses:
        raise RefusedAddress(f"cannot resolve {host!r}: no address")
    if not allow_local:
        for address in addresses:
            if not is_public(address):
                raise RefusedAddress(
                    f"{host!r} resolves to {address}, a loopback, private or reserved address; "
                    "such addresses are refused unless QALA_ALLOW_LOCAL_ENDPOINTS=true"
                )
    return addresses


async def check_url(url: str, *, allow_local: bool, default_port: int = 80) -> None:
    """Raise :class:`RefusedAddress` unless every address ``url``'s host resolves to is public.

    A check alone (when a subscription is created, to refuse it early): connections go through
    :mod:`qala.outbound`, which checks again the address it connects to. With ``allow_local``
    every address is allowed.
    """
    if allow_local:
        return
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise RefusedAddress(f"{url!r} has no host")
    await checked_addresses(host, parts.port or default_port, allow_local=False)
