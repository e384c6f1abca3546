"""Outbound-request guard: refuse loopback and private addresses unless explicitly allowed.

Remote ``@context`` documents and notification endpoints are URLs chosen by API users; without a
guard, a user could make the server call services on its own network (SSRF).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit


class RefusedAddress(ValueError):
    """The URL points at an address the server is not allowed to contact."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_url(url: str, *, allow_local: bool, default_port: int = 80) -> None:
    """Raise :class:`RefusedAddress` unless every address ``url``'s host resolves to is public.

    With ``allow_local`` (tests, the demo, closed networks) every address is allowed.
    """
    if allow_local:
        return
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise RefusedAddress(f"{url!r} has no host")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or default_port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise RefusedAddress(f"cannot resolve {host!r}: {exc.strerror or exc}") from exc
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise RefusedAddress(
                f"{host!r} resolves to {address}, a loopback, private or reserved address; "
                "such addresses are refused unless QALA_ALLOW_LOCAL_ENDPOINTS=true"
            )
