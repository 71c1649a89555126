"""The SSRF guard (core/outbound.py): which addresses count as public, which URLs may be registered, and
that a refused destination is never connected to (a real listening socket on 127.0.0.1 sees nothing)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import outbound
from core.outbound import destination_url_problem, embedded_ipv4, is_public_address, literal_address

NOT_PUBLIC = [
    # IPv4
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.5",
    "100.64.0.1",  # shared address space (carrier-grade NAT), RFC 6598
    "100.127.255.254",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",  # cloud metadata
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",  # TEST-NET-1
    "192.168.1.1",
    "198.18.0.1",  # benchmarking
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",  # multicast: is_global is True for it on Python 3.11
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    # IPv6
    "::",
    "::1",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456:789a::1",
    "fec0::1",  # site-local (deprecated): is_global is True for it on Python 3.11
    "ff02::1",
    "ff0e::1",
    "2001:db8::1",  # documentation
    "2001::1",  # Teredo
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "100::1",  # discard-only
    # IPv6 forms of non-public IPv4 addresses
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.5",
    "::ffff:169.254.169.254",
    "::ffff:100.64.0.1",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:5::1",  # 6to4 of 10.0.0.5
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::c0a8:101",  # NAT64 of 192.168.1.1
    "64:ff9b:1::a00:5",  # local-use NAT64 prefix, RFC 8215
]

PUBLIC = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.215.14",
    "100.63.255.255",  # just below 100.64/10
    "100.128.0.1",  # just above it
    "172.32.0.1",  # just above 172.16/12
    "2606:4700:4700::1111",
    "2a00:1450:4001:82a::200e",
    "::ffff:8.8.8.8",  # IPv4-mapped public: judged by the IPv4 address, not by ::/8 being reserved
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 (DNS64 on an IPv6-only network) of 8.8.8.8
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(address)
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    ("address", "inner"),
    [
        ("::ffff:10.0.0.5", "10.0.0.5"),
        ("2002:a00:5::1", "10.0.0.5"),
        ("64:ff9b::808:808", "8.8.8.8"),
        ("2606:4700:4700::1111", None),
    ],
)
def test_embedded_ipv4_is_read_from_mapped_6to4_and_nat64_forms(address: str, inner: str | None) -> None:
    found = embedded_ipv4(ipaddress.IPv6Address(address))
    assert (str(found) if found else None) == inner


@given(st.ip_addresses(v=4))
def test_every_ipv4_address_is_judged_the_same_in_its_ipv6_forms(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("64:ff9b::")) | int(address))
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80) | 1)
    expected = is_public_address(address)
    assert is_public_address(mapped) == is_public_address(nat64) == is_public_address(sixtofour) == expected


@given(
    st.ip_addresses(network="10.0.0.0/8")
    | st.ip_addresses(network="127.0.0.0/8")
    | st.ip_addresses(network="169.254.0.0/16")
    | st.ip_addresses(network="fc00::/7")
    | st.ip_addresses(network="fe80::/10")
)
def test_private_and_loopback_ranges_are_never_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("2130706433", "127.0.0.1"),  # what inet_aton, and so a resolver, reads without DNS
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("example.com", None),
        ("deadbeef", None),
        ("1.2.3.4.5", None),
    ],
)
def test_literal_address_reads_every_numeric_form(host: str, address: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found else None) == address


REFUSED_URLS = [
    ("http://127.0.0.1:9/x", "127.0.0.1 is not a public address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address"),
    ("https://10.0.0.5/hook", "10.0.0.5 is not a public address"),
    ("http://[::1]/", "::1 is not a public address"),
    ("http://[fd00::1]:8080/", "fd00::1 is not a public address"),
    ("http://[::ffff:127.0.0.1]/", f"{ipaddress.ip_address('::ffff:127.0.0.1')} is not a public address"),
    ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe is not a public address"),
    ("http://0.0.0.0:8000/", "0.0.0.0 is not a public address"),
    ("http://2130706433/", "127.0.0.1 is not a public address"),
    ("http://100.64.0.1/", "100.64.0.1 is not a public address"),
    ("http://localhost:8000/hook", "localhost is a local host name; destinations must be public"),
    ("http://LOCALHOST./hook", "localhost. is a local host name; destinations must be public"),
    ("http://api.localhost/hook", "api.localhost is a local host name; destinations must be public"),
    ("http://user:pw@127.0.0.1/", "127.0.0.1 is not a public address"),
]


@pytest.mark.parametrize(("url", "problem"), REFUSED_URLS)
def test_urls_naming_local_or_private_hosts_are_refused_at_registration(url: str, problem: str) -> None:
    assert destination_url_problem(url, allow_private=False) == problem


@pytest.mark.parametrize(("url", "_problem"), REFUSED_URLS)
def test_the_same_urls_pass_when_private_destinations_are_allowed(url: str, _problem: str) -> None:
    assert destination_url_problem(url, allow_private=True) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://crm.example.com/inbound",
        "http://93.184.215.14:8080/hook",
        "https://[2606:4700:4700::1111]/hook",
        "https://internal.corp.example/x",  # a name is checked when sending, not here (no DNS at registration)
        "https://localhost.example.com/",
    ],
)
def test_public_or_unresolved_names_are_accepted_at_registration(url: str) -> None:
    assert destination_url_problem(url, allow_private=False) is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://files.example.com/x", "use an http or https URL"),
        ("file:///etc/passwd", "use an http or https URL"),
        ("gopher://example.com/", "use an http or https URL"),
        ("https:///nohost", "the URL has no host"),
        ("http://[::1/", "the URL is malformed"),
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_only_http_and_https_urls_with_a_host_are_accepted(url: str, problem: str, allow_private: bool) -> None:
    assert destination_url_problem(url, allow_private=allow_private) == problem


def test_registration_follows_the_setting_by_default(settings: Any) -> None:
    settings.PROVENANT_OUTBOUND_ALLOW_PRIVATE = False
    assert destination_url_problem("http://10.0.0.5/") == "10.0.0.5 is not a public address"
    settings.PROVENANT_OUTBOUND_ALLOW_PRIVATE = True
    assert destination_url_problem("http://10.0.0.5/") is None
    del settings.PROVENANT_OUTBOUND_ALLOW_PRIVATE
    assert destination_url_problem("http://10.0.0.5/") is not None, "a missing setting refuses"


# --- sending ------------------------------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP socket listening on 127.0.0.1 that nobody should connect to."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    yield server
    server.close()


def connections(server: socket.socket) -> int:
    """How many connections are waiting to be accepted."""
    count = 0
    while True:
        try:
            accepted, _ = server.accept()
        except TimeoutError:
            return count
        accepted.close()
        count += 1


@pytest.mark.parametrize(
    ("host", "detail"),
    [
        ("127.0.0.1", "destination refused: 127.0.0.1 is not a public address"),
        ("localhost", "destination refused: localhost resolves to 127.0.0.1, which is not a public address"),
    ],
)
def test_a_refused_destination_is_never_connected_to(
    settings: Any, listener: socket.socket, host: str, detail: str
) -> None:
    settings.PROVENANT_OUTBOUND_ALLOW_PRIVATE = False
    port = listener.getsockname()[1]

    result = outbound.outbound_post(f"http://{host}:{port}/hook", content=b"{}", headers={}, timeout=2)

    assert result == outbound.OutboundFailure(transient=False, detail=detail, refused=True)
    assert connections(listener) == 0


def test_an_unresolvable_name_is_a_transient_network_error(settings: Any) -> None:
    settings.PROVENANT_OUTBOUND_ALLOW_PRIVATE = False
    result = outbound.outbound_post("http://name.invalid/hook", content=b"{}", headers={}, timeout=2)
    assert result == outbound.OutboundFailure(transient=True, detail="network error (ConnectError)")


def test_an_unsupported_scheme_is_a_permanent_failure(settings: Any) -> None:
    result = outbound.outbound_post("ftp://files.example.com/x", content=b"{}", headers={}, timeout=2)
    assert result == outbound.OutboundFailure(transient=False, detail="the URL cannot be used (UnsupportedProtocol)")


def test_the_tls_server_name_is_the_url_host_not_the_vetted_address(settings: Any, listener: socket.socket) -> None:
    """connect_tcp gets the name and connects to the address it vetted; start_tls still names the host."""
    settings.PROVENANT_OUTBOUND_ALLOW_PRIVATE = True
    port = listener.getsockname()[1]
    seen: dict[str, Any] = {}

    def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.started":
            seen["connect_host"] = info["host"]
        if event == "connection.start_tls.started":
            seen["server_hostname"] = info["server_hostname"]

    with outbound.outbound_client(0.5) as client, pytest.raises(httpx.TransportError):  # no TLS server answers
        client.post(f"https://localhost:{port}/hook", content=b"{}", extensions={"trace": trace})

    assert seen == {"connect_host": "localhost", "server_hostname": "localhost"}
