#!/usr/bin/env bash
# Puts promtool (from Debian's `prometheus` package) into $1 (default .venv/bin) without
# installing the package, so no Prometheus server is started and no root is needed beyond apt's
# cache. The metrics lint test skips with a clear reason when this cannot work (no apt, no registry).
set -euo pipefail
target_dir=${1:-.venv/bin}
if command -v promtool >/dev/null 2>&1 || [ -x "$target_dir/promtool" ]; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "install_promtool: no apt-get; the promtool test will skip" >&2; exit 0; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  apt-get download prometheus >/dev/null 2>&1 \
    || { [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null 2>&1; }
) || { echo "install_promtool: could not download Debian's prometheus package; the promtool test will skip" >&2; exit 0; }
dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
install -m 0755 "$work/root/usr/bin/promtool" "$target_dir/promtool"
echo "installed $("$target_dir/promtool" --version 2>&1 | head -n 1) into $target_dir"
