"""Port numbers and gRPC targets typed by a user, checked before anything listens or connects.

Why one module: a port outside 0-65535 is not refused by gRPC: a client target
`localhost:70000` wraps around to port 4464 (70000 mod 65536) and `localhost:-1` to 65535, so
`flopwatt health --address localhost:70000` probed another port and reported what it found
there. `flopwatt serve` (service/config.py) and `flopwatt health` check through these functions,
so both name the flag and the same range.
"""

from __future__ import annotations

import re

MAX_PORT = 65535
# Target schemes of gRPC's resolvers (grpc/doc/naming.md): those whose address names a port, and
# those that carry no TCP port to check. gRPC reads any other target as a DNS `host:port`.
_HOST_PORT_SCHEMES = re.compile(r"^(?:dns:(?://[^/]*/)?|ipv4:|ipv6:)", re.IGNORECASE)
_PORTLESS_SCHEMES = re.compile(r"^(?:unix|unix-abstract|vsock|xds|google-c2p):", re.IGNORECASE)


class PortError(ValueError):
    """A port out of range or not a number; the message names where it came from."""


def check_port(value: int | str, name: str, low: int = 1) -> int:
    """`value` as a port between `low` and 65535 (`serve` allows 0, a free port, and -1 for no
    metrics endpoint), else PortError naming `name` (a flag or variable) and the range."""
    try:
        port = int(value)
    except ValueError:
        raise PortError(f"{name} must be a number between {low} and {MAX_PORT}, got {value!r}") from None
    if not low <= port <= MAX_PORT:
        raise PortError(f"{name} must be between {low} and {MAX_PORT}, got {port}")
    return port


def target_ports(target: str) -> list[str]:
    """The port texts of a gRPC client target: `host:port`, `[v6]:port`, `dns:[//authority/]host:port`
    or `ipv4:`/`ipv6:` lists (comma-separated). Empty for a host without a port (gRPC's default
    applies) or a target of a portless scheme (`unix:/path`)."""
    if _PORTLESS_SCHEMES.match(target):
        return []
    scheme = _HOST_PORT_SCHEMES.match(target)
    addresses = target[scheme.end() :].split(",") if scheme else [target]
    return [port for port in map(_port_text, addresses) if port is not None]


def _port_text(address: str) -> str | None:
    """The text after the port colon of one `host:port` or `[v6]:port`; None without a port."""
    if address.startswith("["):
        _, bracket, rest = address.partition("]")
        return rest[1:] if bracket and rest.startswith(":") else None
    if address.count(":") != 1:  # no port, or a bare IPv6 literal
        return None
    return address.rpartition(":")[2]


def check_target(target: str, name: str) -> str:
    """`target` unchanged when each port it names is 1-65535, else PortError naming `name`."""
    for port in target_ports(target):
        check_port(port, f"{name} {target!r}: the port", low=1)
    return target
