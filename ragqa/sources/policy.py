"""Which sources a caller over the network may ingest: an allow-list of hosts, and no SSRF.

The CLI is trusted (it runs as its user); the HTTP server is not. Over HTTP a source must be an
`https://` URL on an allowed host (github.com, gitlab.com, bitbucket.org by default) whose every
address is public: loopback, private, link-local, shared, reserved, multicast and cloud metadata
addresses are refused. The addresses checked are then pinned for git (`http.curloptResolve`),
and redirects are not followed, so a DNS answer that changes between the check and the fetch
(DNS rebinding), or a redirect to an inner host, cannot reach anything the check refused.
Local paths and `file://` URLs are refused unless the server's admin setting allows them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from ragqa.errors import BadSourceError, SourceUnavailableError
from ragqa.sources.spec import SourceKind, SourceSpec

Resolver = Callable[[str, int], list[str]]
METADATA_ADDRESSES = frozenset({
    ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200")})


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise SourceUnavailableError(f"cannot resolve {host}: {error}") from error
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class SourcePolicy:
    """What a network caller may ingest."""

    allowed_hosts: frozenset[str]
    allow_local: bool = False
    resolver: Resolver = resolve

    @classmethod
    def of(cls, hosts: Iterable[str], allow_local: bool = False) -> SourcePolicy:
        return cls(frozenset(host.strip().lower() for host in hosts if host.strip()), allow_local)

    def vet(self, spec: SourceSpec) -> SourceSpec:
        """The spec if it is allowed, with its host's checked addresses pinned; else an error."""
        if spec.kind is not SourceKind.REMOTE or spec.location.startswith("file:"):
            if self.allow_local:
                return spec
            raise BadSourceError("local paths and file:// URLs are not accepted over HTTP "
                                 "(an admin can allow them with RAGQA_ALLOW_LOCAL_SOURCES)")
        parts = urlsplit(spec.location)
        if parts.scheme != "https":
            raise BadSourceError("only https:// git URLs are accepted over HTTP")
        host = (parts.hostname or "").lower()
        if not self._host_allowed(host):
            raise BadSourceError(f"host {host!r} is not on the allow-list "
                                 f"({', '.join(sorted(self.allowed_hosts)) or 'empty'})")
        port = parts.port or 443
        addresses = self.resolver(host, port)
        if not addresses:
            raise SourceUnavailableError(f"{host} has no address")
        for address in addresses:
            problem = _unsafe(address)
            if problem:
                raise BadSourceError(f"host {host!r} resolves to a {problem} address ({address}); refused")
        return replace(spec, pinned=f"{host}:{port}:{','.join(_bracketed(a) for a in addresses)}")

    def _host_allowed(self, host: str) -> bool:
        return any(host == allowed or (allowed.startswith("*.") and host.endswith(allowed[1:]))
                   for allowed in self.allowed_hosts)


def _unsafe(address: str) -> str | None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    for name, flag in (("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
                       ("private", ip.is_private), ("multicast", ip.is_multicast),
                       ("reserved", ip.is_reserved), ("unspecified", ip.is_unspecified)):
        if flag:
            return name
    return None if ip.is_global else "non-public"


def _bracketed(address: str) -> str:
    return f"[{address}]" if ":" in address else address
