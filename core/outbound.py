"""Outbound HTTP to URLs that integrations register, guarded against server-side request forgery.

Deliveries, consent-change webhooks and DSAR connectors POST to URLs an API-key holder chose. Unless
``PROVENANT_OUTBOUND_ALLOW_PRIVATE`` is true, those requests may reach only public addresses:

* at registration, :func:`destination_url_problem` refuses a scheme other than http/https, ``localhost``
  and literal non-public IPs (no DNS lookup: a name may resolve differently by the time it is used);
* at send time, :func:`outbound_client` resolves the host itself, refuses the request if any address it
  resolves to is not public, and connects to a vetted address, so a name re-pointed between check and
  connect (DNS rebinding) cannot reach the internal network. The URL's host still names the ``Host``
  header and the TLS server name and certificate check.

Environment proxies are not used (the client has an explicit transport): the check is of the destination.
"""

from __future__ import annotations

import ipaddress
import random
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

USER_AGENT: Final = "Provenant/1 (+https://provenant.dev)"
ALLOWED_SCHEMES: Final = frozenset({"http", "https"})
DETAIL_LENGTH: Final = 200
# RFC 6052 well-known NAT64 prefix: the last 32 bits are the IPv4 destination.
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
# IETF protocol assignments (RFC 6890): Python before 3.12.4 counts only 192.0.0.0/29 of it as private.
_ALSO_NOT_PUBLIC: Final = (ipaddress.IPv4Network("192.0.0.0/24"),)
# Numeric hosts that inet_aton reads as IPv4 (2130706433, 0x7f.1, 127.1): resolvers accept them too.
_LEGACY_IPV4: Final = re.compile(r"[0-9a-fx.]+")


def allow_private_destinations() -> bool:
    """``PROVENANT_OUTBOUND_ALLOW_PRIVATE``. Read defensively on purpose: a settings module that lacks it
    (a hand-written one) refuses private destinations, the safe side of an SSRF guard."""
    return bool(getattr(settings, "PROVENANT_OUTBOUND_ALLOW_PRIVATE", False))


def outbound_timeout_seconds() -> float:
    """``PROVENANT_OUTBOUND_TIMEOUT_SECONDS``: connect, read and write timeout of every outbound call."""
    return float(settings.PROVENANT_OUTBOUND_TIMEOUT_SECONDS)


def backoff_seconds(attempt: int, *, base: float, cap: float, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter (AWS Architecture Blog, 2015): uniform in [0, min(cap, base*2^(n-1)))."""
    ceiling = min(cap, base * 2 ** min(max(attempt - 1, 0), 32))
    return ceiling * rng()


# --- pure rules ---------------------------------------------------------------------------------------------------


def _is_public_plain(address: IPAddress) -> bool:
    # is_global alone lets multicast (224/4, ff00::/8) and site-local fec0::/10 through on Python 3.11.
    if not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv4Address) and any(address in network for network in _ALSO_NOT_PUBLIC):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return not (
        address.is_multicast
        or address.is_private
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``, NAT64."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress | str) -> bool:
    """Whether ``address`` is on the public internet: not loopback, private, link-local, shared (100.64/10),
    multicast, reserved or unspecified; an IPv6 form of an IPv4 address is judged by that IPv4 address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            return _is_public_plain(inner)
    return _is_public_plain(ip)


def literal_address(host: str) -> IPAddress | None:
    """The IP address ``host`` spells, in any form a resolver reads without DNS; None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_local_name(host: str) -> bool:
    """``localhost`` and names under it (RFC 6761 6.3), with or without the root's trailing dot."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def destination_url_problem(url: str, *, allow_private: bool | None = None) -> str | None:
    """Why ``url`` may not be registered as a destination, or None. No DNS lookup: send time checks names."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "the URL is malformed"
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return "use an http or https URL"
    if not host:
        return "the URL has no host"
    if allow_private if allow_private is not None else allow_private_destinations():
        return None
    if is_local_name(host):
        return f"{host} is a local host name; destinations must be public"
    address = literal_address(host.rstrip("."))
    if address is not None and not is_public_address(address):
        return f"{address} is not a public address"
    return None


# --- sending ------------------------------------------------------------------------------------------------------


class DestinationRefused(httpx.TransportError):
    """The host resolved to an address that is not public; no connection was made."""


class _VettingBackend(httpcore.SyncBackend):
    """Resolves the host once, refuses it if any address is not public, connects to a vetted address.

    httpcore passes the URL's host here, and takes the TLS server name from the request, not from the
    address this connects to: SNI and the certificate check stay on the name."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _resolve(host, port)
        if not self.allow_private:
            for address in addresses:
                if not is_public_address(address):
                    raise DestinationRefused(_refusal(host, address))
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return super().connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # _resolve returns at least one address
        raise failure


def _refusal(host: str, address: IPAddress) -> str:
    if literal_address(host) == address:
        return f"destination refused: {address} is not a public address"
    return f"destination refused: {host} resolves to {address}, which is not a public address"


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to for TCP, in the resolver's order, without repeats."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve the host: {exc}") from exc
    addresses: list[IPAddress] = []
    for family, *_, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise httpcore.ConnectError("the host resolves to no address")
    return addresses


class _VettingTransport(httpx.HTTPTransport):
    """httpx's transport with its connection pool built on :class:`_VettingBackend`.

    httpx 0.28 does not take a network backend (encode/httpx#3749): the pool is replaced after
    ``HTTPTransport.__init__`` with the same defaults and SSL context."""

    def __init__(self, *, allow_private: bool) -> None:
        ssl_context = httpx.create_ssl_context()
        super().__init__(verify=ssl_context)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_VettingBackend(allow_private=allow_private),
        )


def outbound_client(timeout: float) -> httpx.Client:
    """An httpx client for destinations integrations chose: no redirects, no environment proxies, the
    Provenant User-Agent, and non-public addresses refused unless PROVENANT_OUTBOUND_ALLOW_PRIVATE."""
    return httpx.Client(
        transport=_VettingTransport(allow_private=allow_private_destinations()),
        timeout=timeout,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


@dataclass(frozen=True)
class OutboundFailure:
    """A POST that got no answer: ``refused`` (a non-public destination, never retried) or a network error."""

    transient: bool
    detail: str
    refused: bool = False


def outbound_post(
    url: str, *, content: bytes, headers: dict[str, str], timeout: float
) -> httpx.Response | OutboundFailure:
    """POST through :func:`outbound_client`; never raises for network errors or refusals. The answer's
    body is read in full; no detail holds the payload or the body."""
    try:
        with outbound_client(timeout) as client:
            return client.post(url, content=content, headers=headers)
    except DestinationRefused as exc:
        return OutboundFailure(transient=False, detail=str(exc)[:DETAIL_LENGTH], refused=True)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return OutboundFailure(transient=False, detail=f"the URL cannot be used ({type(exc).__name__})")
    except httpx.TimeoutException as exc:
        return OutboundFailure(transient=True, detail=f"timeout ({type(exc).__name__})")
    except httpx.HTTPError as exc:
        return OutboundFailure(transient=True, detail=f"network error ({type(exc).__name__})")
