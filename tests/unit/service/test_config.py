"""Settings: precedence defaults < environment < flags, validation, no token in repr."""

from __future__ import annotations

import pathlib

import pytest

from flopwatt.service.config import Settings, SettingsError, load_settings


def test_defaults_match_the_design():
    settings = load_settings({}, environ={})
    assert (settings.port, settings.metrics_port) == (50051, 9464)
    assert settings.database_path.name == "flopwatt.sqlite3"


def test_environment_then_flags_win(tmp_path):
    env = {"FLOPWATT_PORT": "6000", "FLOPWATT_DATA_DIR": str(tmp_path), "FLOPWATT_HOST": "0.0.0.0"}
    assert load_settings({}, environ=env).port == 6000
    settings = load_settings({"port": "7000", "host": None}, environ=env)
    assert settings.port == 7000 and settings.host == "0.0.0.0" and settings.data_dir == pathlib.Path(tmp_path)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"port": "-1"}, "--port"),
        ({"metrics_port": "70000"}, "--metrics-port"),
        ({"tls_cert": "/nonexistent.pem"}, "--tls-key"),
        ({"max_concurrent_rpcs": "0"}, "--max-concurrent-rpcs"),
        ({"log_level": "LOUD"}, "--log-level"),
        ({"shutdown_grace_seconds": "nan"}, "--shutdown-grace-seconds"),
    ],
)
def test_invalid_values_name_the_flag(overrides, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(overrides, environ={})


def test_short_token_refused_and_token_never_printed():
    with pytest.raises(SettingsError, match="FLOPWATT_AUTH_TOKEN"):
        load_settings({}, environ={"FLOPWATT_AUTH_TOKEN": "short"})
    settings = Settings(auth_token="s3cret-token-that-is-long")
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"max_concurrent_streams": "0"}, "--max-concurrent-streams"),
        ({"max_streams_per_peer": "0"}, "--max-streams-per-peer"),
        ({"estimate_workers": "0"}, "--estimate-workers"),
        ({"estimate_queue": "-1"}, "--estimate-queue"),
        ({"sweep_workers": "0"}, "--sweep-workers"),
        ({"handshake_timeout_seconds": "nan"}, "--handshake-timeout-seconds"),
        ({"handshake_timeout_seconds": "0"}, "--handshake-timeout-seconds"),
    ],
)
def test_availability_limits_are_validated(overrides, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(overrides, environ={})


def test_availability_limits_default_and_come_from_the_environment():
    settings = load_settings({}, environ={})
    assert settings.max_concurrent_streams < settings.max_concurrent_rpcs  # unary calls keep slots of their own
    assert settings.handshake_timeout_seconds < 120  # below gRPC's default
    env = {
        "FLOPWATT_MAX_STREAMS_PER_PEER": "4",
        "FLOPWATT_HANDSHAKE_TIMEOUT_SECONDS": "2.5",
        "FLOPWATT_ESTIMATE_WORKERS": "3",
    }
    settings = load_settings({}, environ=env)
    assert (settings.max_streams_per_peer, settings.handshake_timeout_seconds, settings.estimate_workers) == (4, 2.5, 3)
