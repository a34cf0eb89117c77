"""Where webhooks may be sent: live mode only to public ``https`` hosts; test mode also over ``http`` and to
loopback, so a receiver on the developer's machine works, but never to private, link-local or reserved addresses.

The check resolves the host name, so a DNS name that points at a private address is refused too;
deliveries check again before every attempt (DNS can change) and never follow redirects. A name that
does not resolve raises ``Unresolved``: a subscription is refused, a delivery retried as after a
connection error (DNS failures can pass). The name is resolved on a thread (the event loop's
resolver): a slow DNS server holds up only the request or delivery that asked, never the process.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from models.errors import InvalidInput


class Unresolved(InvalidInput):
    """The URL's host name does not resolve at the moment."""


async def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise Unresolved(f"host {host!r} does not resolve", field="url") from None
    except UnicodeError:  # no DNS name: it never will
        raise InvalidInput(f"host {host!r} is not a valid name", field="url") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


# IPv6 addresses whose last 32 bits are an IPv4 address a gateway may route to: NAT64's well-known prefix,
# SIIT's, and the deprecated IPv4-compatible form (``::1`` aside). Python counts them all as global.
_CARRY_IPV4 = tuple(ipaddress.IPv6Network(prefix) for prefix in ("64:ff9b::/96", "::ffff:0:0:0/96", "::/96"))
# Refused whatever they carry: NAT64's local-use prefix (its IPv4 address may sit anywhere), site-local.
_NEVER = tuple(ipaddress.IPv6Network(prefix) for prefix in ("64:ff9b:1::/48", "fec0::/10"))


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, mode: str) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and not address.is_loopback:
        if any(address in network for network in _NEVER):
            return False
        address = _carried_ipv4(address) or address
    return (address.is_global and not address.is_multicast) or (mode != "live" and address.is_loopback)


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo's client, NAT64, SIIT, compatible), if any:
    the one a connection to it may reach."""
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if any(address in network for network in _CARRY_IPV4):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def check_url(url: str, mode: str) -> None:
    """Raise ``InvalidInput`` (field ``url``) unless *url* may receive webhooks in *mode*."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, say
        raise InvalidInput("not a valid URL", field="url") from None
    if parts.scheme not in ({"https"} if mode == "live" else {"https", "http"}):
        raise InvalidInput("live webhooks need an https URL" if mode == "live" else "need an http(s) URL", field="url")
    if not parts.hostname or parts.username or parts.password:
        raise InvalidInput("need a host and no credentials in the URL", field="url")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise InvalidInput("malformed port", field="url") from None
    await allowed_addresses(parts.hostname, mode)


async def allowed_addresses(host: str, mode: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """*host*'s addresses now, if *mode* may send to every one; else ``InvalidInput`` (``Unresolved`` if none)."""
    addresses = await _addresses(host)
    if not all(_allowed(address, mode) for address in addresses):
        refused = "loopback, private" if mode == "live" else "private"
        raise InvalidInput(f"{mode} webhooks cannot target {refused}, link-local or reserved addresses", field="url")
    return addresses
