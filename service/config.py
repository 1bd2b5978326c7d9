"""One typed settings object for the server, built from defaults, then `FLOPWATT_*` environment
variables, then command-line flags (each later source wins). Validated once, at start-up, so a
bad port or a missing certificate is one clear error instead of a failure deep in grpc."""

from __future__ import annotations

import dataclasses
import os
import pathlib
from dataclasses import dataclass
from typing import Any, Mapping

from flopwatt.bench.store import database_path, standard_data_dir
from flopwatt.service.ports import PortError, check_port

DEFAULT_PORT = 50051  # the gRPC examples' conventional port
DEFAULT_METRICS_PORT = 9464  # the OpenTelemetry/Prometheus exporter convention (DESIGN §5)
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # grpc's own default receive limit; a cost service carries no tensors
# Application RPCs in flight (unary and streams together; health Check is never counted).
DEFAULT_MAX_CONCURRENT_RPCS = 256
# Long-lived streams (Watch*, SweepTraining, health Watch, reflection) in flight: half the RPC
# budget, so streams held open by any number of clients leave at least 128 slots to unary calls.
DEFAULT_MAX_CONCURRENT_STREAMS = 128
# Streams one client address may hold: a single host (or a script gone wrong) can take an
# eighth of the stream budget, not all of it. Clients behind one NAT or proxy share it.
DEFAULT_MAX_STREAMS_PER_PEER = 16
# Threads that run CPU-heavy estimates (Monte Carlo samples, campus sizing) off the event loop:
# one per core of a small host; NumPy releases the GIL in its array loops, Python code does not.
DEFAULT_ESTIMATE_WORKERS = 2
# Heavy estimates admitted beyond those running (they wait for a worker); more get
# RESOURCE_EXHAUSTED at once rather than a deadline's worth of queueing. A 100,000-sample
# request takes ~0.1-0.3 s of CPU, so 32 waiting are a few seconds of backlog at most.
DEFAULT_ESTIMATE_QUEUE = 32
# Threads that evaluate sweep chunks; its own pool, so sweeps never queue the run manager's
# (or anyone else's) work in the default executor.
DEFAULT_SWEEP_WORKERS = 2
# Time a new connection gets to finish TLS and send the HTTP/2 preface and SETTINGS; gRPC's
# default is 120 s, which let 400 idle sockets hold 400 descriptors. 10 s covers a TLS handshake
# across a slow intercontinental link many times over.
DEFAULT_HANDSHAKE_TIMEOUT_SECONDS = 10.0
DEFAULT_SHUTDOWN_GRACE_SECONDS = 10.0  # below Kubernetes' 30 s default termination grace period


class SettingsError(ValueError):
    """A setting that cannot work; the message names the flag and the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything `flopwatt serve` needs; field names match the flags and, upper-cased with a
    `FLOPWATT_` prefix, the environment variables."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    metrics_host: str = "127.0.0.1"
    metrics_port: int = DEFAULT_METRICS_PORT  # 0 picks a free port; -1 disables the metrics endpoint
    # The XDG data directory, so a laptop user gets a persistent store without configuration;
    # the one `flopwatt bench` writes to (bench/store.py holds the definition).
    data_dir: pathlib.Path = dataclasses.field(default_factory=standard_data_dir)
    auth_token: str | None = None
    tls_cert: pathlib.Path | None = None
    tls_key: pathlib.Path | None = None
    tls_client_ca: pathlib.Path | None = None
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    max_concurrent_rpcs: int = DEFAULT_MAX_CONCURRENT_RPCS
    max_concurrent_streams: int = DEFAULT_MAX_CONCURRENT_STREAMS
    max_streams_per_peer: int = DEFAULT_MAX_STREAMS_PER_PEER
    estimate_workers: int = DEFAULT_ESTIMATE_WORKERS
    estimate_queue: int = DEFAULT_ESTIMATE_QUEUE
    sweep_workers: int = DEFAULT_SWEEP_WORKERS
    handshake_timeout_seconds: float = DEFAULT_HANDSHAKE_TIMEOUT_SECONDS
    shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS
    log_level: str = "INFO"

    def __repr__(self) -> str:  # never print the token
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if fields["auth_token"]:
            fields["auth_token"] = "<redacted>"
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert is not None

    @property
    def database_path(self) -> pathlib.Path:
        return database_path(self.data_dir)

    def validate(self) -> "Settings":
        """Raise SettingsError for values that cannot work."""
        try:  # 0 picks a free port; -1 disables the metrics endpoint
            check_port(self.port, "--port", low=0)
            check_port(self.metrics_port, "--metrics-port", low=-1)
        except PortError as error:
            raise SettingsError(str(error)) from None
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SettingsError("--tls-cert and --tls-key (FLOPWATT_TLS_CERT, FLOPWATT_TLS_KEY) must be given together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise SettingsError("--tls-client-ca needs --tls-cert and --tls-key (mTLS is on top of TLS)")
        for name in ("tls_cert", "tls_key", "tls_client_ca"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise SettingsError(f"--{name.replace('_', '-')}: no such file: {path}")
        if self.auth_token is not None and len(self.auth_token) < 16:
            raise SettingsError("FLOPWATT_AUTH_TOKEN must be at least 16 characters")
        if self.max_message_bytes < 1024:
            raise SettingsError("--max-message-bytes must be at least 1024")
        for name in (
            "max_concurrent_rpcs",
            "max_concurrent_streams",
            "max_streams_per_peer",
            "estimate_workers",
            "sweep_workers",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"--{name.replace('_', '-')} must be at least 1")
        if self.estimate_queue < 0:
            raise SettingsError("--estimate-queue must be at least 0")
        if not 0.1 <= self.handshake_timeout_seconds <= 3600:  # NaN fails too
            raise SettingsError("--handshake-timeout-seconds must be between 0.1 and 3600")
        if not self.shutdown_grace_seconds >= 0:
            raise SettingsError("--shutdown-grace-seconds must be >= 0")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError("--log-level must be DEBUG, INFO, WARNING or ERROR")
        return self


_PATH_FIELDS = {"data_dir", "tls_cert", "tls_key", "tls_client_ca"}
_INT_FIELDS = {
    "port",
    "metrics_port",
    "max_message_bytes",
    "max_concurrent_rpcs",
    "max_concurrent_streams",
    "max_streams_per_peer",
    "estimate_workers",
    "estimate_queue",
    "sweep_workers",
}
_FLOAT_FIELDS = {"shutdown_grace_seconds", "handshake_timeout_seconds"}


def _coerce(name: str, raw: Any, origin: str) -> Any:
    if raw is None:
        return None
    try:
        if name in _PATH_FIELDS:
            return pathlib.Path(str(raw)).expanduser()
        if name in _INT_FIELDS:
            return int(raw)
        if name in _FLOAT_FIELDS:
            return float(raw)
    except ValueError:
        raise SettingsError(f"{origin}: {raw!r} is not a valid {name.replace('_', ' ')}") from None
    return str(raw)


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults < FLOPWATT_* environment < explicit overrides (flags; None means not given)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Settings):
        variable = "FLOPWATT_" + field.name.upper()
        if environ.get(variable, "") != "":
            values[field.name] = _coerce(field.name, environ[variable], variable)
    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _coerce(name, raw, "--" + name.replace("_", "-"))
    return Settings(**values).validate()
