#!/usr/bin/env bash
# The "first GPU session" checklist of docs/benchmarks.md as one script, for one device call.
#
# Why one script with a deadline: a lent GPU machine gives 15 minutes of device time in all and
# one command may run 10 minutes, so each step gets its own `timeout`. The short GPU tests (which
# write the quick profile) run first; then the full suite, but only when it fits (FULL_SUITE_SECONDS,
# 289 s measured on an H100) before the time kept for the closed loop (CLOSED_LOOP_SECONDS: the
# Llama-3.2-1B-class training and decode steps measured against the estimate, issue 13 item 3,
# estimated at about 150 s in docs/benchmarks.md); the closed loop gets whatever is left.
# Everything lands under $OUT, at most 8 files (the device returns no more): environment.txt,
# h100-quick.json, pytest-gpu.log, bench-full.log, h100-full.json, closed-loop-h100.json,
# closed-loop-h100.log, h100-workload.json (stream-sizes.json instead of one of them when fewer ran).
#
# Usage on the device machine (repository root):  OUT=/some/dir bash scripts/first_gpu_session.sh
# Optional: .whl/ holding wheels for packages the device image lacks (grpcio-status,
# grpcio-health-checking, grpcio-reflection, googleapis-common-protos, cryptography, protobuf).
set -o pipefail
export PYTHONUNBUFFERED=1
: "${OUT:?set OUT to the folder that receives the results}"
DEADLINE_SECONDS=${DEADLINE_SECONDS:-570}
CLOSED_LOOP_SECONDS=${CLOSED_LOOP_SECONDS:-240}
FULL_SUITE_SECONDS=${FULL_SUITE_SECONDS:-300}
SECONDS=0

source "$(dirname "$0")/gpu_session_common.sh"
install_flopwatt
write_environment "$OUT/environment.txt"
echo "setup took ${SECONDS} s"

remaining=$((DEADLINE_SECONDS - SECONDS))
if [ "$remaining" -gt 30 ]; then
  FLOPWATT_GPU_PROFILE_OUTPUT="$OUT/h100-quick.json" timeout "$remaining" \
    python3 -m pytest -q -p no:cacheprovider -rs tests/gpu 2>&1 | tee "$OUT/pytest-gpu.log"
  echo "tests/gpu: exit ${PIPESTATUS[0]}, at ${SECONDS} s"
else
  echo "tests/gpu skipped: ${remaining} s left"
fi
remaining=$((DEADLINE_SECONDS - SECONDS - CLOSED_LOOP_SECONDS))
if [ "$remaining" -ge "$FULL_SUITE_SECONDS" ]; then
  timeout "$remaining" python3 -m flopwatt bench --device cuda --suite full --no-store \
    --output "$OUT/h100-full.json" 2>&1 | tee "$OUT/bench-full.log"
  echo "full suite: exit ${PIPESTATUS[0]}, at ${SECONDS} s"
else
  echo "full suite skipped: ${remaining} s left before the closed loop's ${CLOSED_LOOP_SECONDS} s, it needs ${FULL_SUITE_SECONDS} s"
fi

# The closed loop: stdout is the binding JSON alone, progress goes to the log; the workload
# profile it measured (and stored in a scratch data directory) is exported beside it.
remaining=$((DEADLINE_SECONDS - SECONDS))
if [ "$remaining" -gt 60 ]; then
  data_dir=$(mktemp -d)
  timeout "$remaining" python3 -m flopwatt validate --local --device cuda --measure-workload --json \
    --data-dir "$data_dir" >"$OUT/closed-loop-h100.json" 2>"$OUT/closed-loop-h100.log"
  echo "closed loop: exit $?, at ${SECONDS} s"
  tail -n 5 "$OUT/closed-loop-h100.log"
  profile_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["profile_id"])' \
    "$OUT/closed-loop-h100.json") \
    && python3 -m flopwatt bench export "$profile_id" --data-dir "$data_dir" --output "$OUT/h100-workload.json"
else
  echo "closed loop skipped: ${remaining} s left"
fi

# A 15 s diagnostic of the Numba STREAM shortfall (bench/results/README.md), when time and the
# device's 8-file limit allow.
remaining=$((DEADLINE_SECONDS - SECONDS))
if [ "$remaining" -gt 30 ] && [ "$(ls "$OUT" | wc -l)" -lt 8 ]; then
  timeout "$remaining" python3 -m flopwatt.bench.diagnostics.stream_sizes --output "$OUT/stream-sizes.json" >/dev/null
  echo "stream sizes: exit $?, at ${SECONDS} s"
fi

ls -la "$OUT"
