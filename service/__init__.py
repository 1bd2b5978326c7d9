"""The service: the gRPC server and its API edge (`api/`: messages to estimator dataclasses and
back, nothing else), interceptors (errors, metrics, auth, decoding), benchmark runs in worker
processes with their SQLite store, Prometheus metrics, settings, and the `flopwatt` CLI. It may
import every other package of the project; nothing imports it."""
