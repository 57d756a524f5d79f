"""Where a channel may send: public http(s) addresses only, unless an operator lists a private
host or network in ALERTS_PRIVATE_TARGETS (a receiver inside the company network).

A channel URL is a request the server makes on an admin's behalf; without this check it could
reach 127.0.0.1, the cloud metadata service (169.254.169.254) or anything on the private
network. The check runs when a channel is saved (API and admin) and again before every send
and every redirect, because what a name resolves to can change after it was saved.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from dataclasses import dataclass
from functools import cache

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Allowed:
    """ALERTS_PRIVATE_TARGETS read: host names (lowercase) and networks."""

    hosts: frozenset[str]
    networks: tuple[Network, ...]

    def admits(self, host: str, address: Address | None = None) -> bool:
        if host.lower().rstrip(".") in self.hosts:
            return True
        return address is not None and any(address in network for network in self.networks)


@cache
def _parse_allowed(entries: tuple[str, ...]) -> Allowed:
    hosts, networks = set(), []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return Allowed(hosts=frozenset(hosts), networks=tuple(networks))


def allowed() -> Allowed:
    return _parse_allowed(tuple(settings.ALERTS_PRIVATE_TARGETS))


def _kind(address: Address) -> str | None:
    """Why an address is not public ('loopback', 'private', ...), or None when it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for name in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return None if address.is_global else "non-public"


def _addresses(host: str) -> list[Address]:
    """Every address `host` stands for, spelled as the socket layer reads it (so 2130706433,
    0177.0.0.1 and 0x7f.1 are 127.0.0.1 here exactly as they would be when connecting)."""
    try:
        return [ipaddress.ip_address(host.strip("[]").split("%")[0])]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def refusal(url: object, *, resolve: bool = True) -> str | None:
    """Why a channel may not send to `url` (a sentence naming the fix), or None when it may.

    A name that does not resolve is let through when saving (it may be a name the server's
    own network resolves later) and fails when sending, as any unreachable receiver does."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return "must be an http:// or https:// URL."
    try:
        host = urllib.parse.urlsplit(url).hostname
    except ValueError:
        return "is not a valid URL."
    if not host:
        return "has no host."
    permitted = allowed()
    if permitted.admits(host):
        return None
    if not resolve:
        return None
    for address in _addresses(host):
        kind = _kind(address)
        if kind and not permitted.admits(host, address):
            return (
                f"points at {address}, a {kind} address; list the host or its network in "
                "ALERTS_PRIVATE_TARGETS to allow a receiver inside your network."
            )
    return None
