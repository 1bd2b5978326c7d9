#!/usr/bin/env bash
# The follow-up to the H100 session of 2026-11-28 (bench/results/README.md), as one device call of
# at most ~200 s: does the four-elements-per-thread Numba copy reach torch's copy, and is the
# closed loop's decode step bound by host dispatch?
#
# Steps, each under `timeout` for the smaller of its cap and the time left to DEADLINE_SECONDS
# (default 190; a step with under MIN_STEP_SECONDS left is skipped and says so):
#   1. install (as first_gpu_session.sh: scripts/gpu_session_common.sh) and environment.txt;
#   2. the STREAM kernel GPU test alone (tests/gpu/test_gpu_suite.py -k stream selects exactly
#      test_stream_kernels_reach_plain_copy), ~30 s: pytest-stream.log;
#   3. the STREAM size diagnostic (Numba copy / scale / add / triad / read and torch's copy at
#      134 MB-1 GiB), ~25 s: stream-sizes.json, stream-sizes.log (table last);
#   4. the decode dispatch diagnostic (bench/diagnostics/decode_dispatch.py), ≤ 40 s:
#      decode-dispatch.json, decode-dispatch.log (table last).
#   5. the closed loop on the 8B layer shape with the time left (see below).
# Then a short summary. Eight files under $OUT at most (the device returns at most 8).
#
# Usage on the device machine (repository root):  OUT=/some/dir bash scripts/gpu_followup.sh
# Optional: .whl/ holding the wheels first_gpu_session.sh names (carry it with the call).
# For a dry run where flopwatt is importable already and there is no GPU: INSTALL=0
# DECODE_DEVICE=cpu DECODE_ARGS=--small (the GPU steps then skip or exit 2, and say so).
set -o pipefail
export PYTHONUNBUFFERED=1
: "${OUT:?set OUT to the folder that receives the results}"
DEADLINE_SECONDS=${DEADLINE_SECONDS:-190}
MIN_STEP_SECONDS=${MIN_STEP_SECONDS:-15}
STREAM_TEST_SECONDS=${STREAM_TEST_SECONDS:-70}
STREAM_SIZES_SECONDS=${STREAM_SIZES_SECONDS:-60}
DECODE_SECONDS=${DECODE_SECONDS:-70}
DECODE_DEVICE=${DECODE_DEVICE:-cuda}
DECODE_ARGS=${DECODE_ARGS:-}
SECONDS=0

source "$(dirname "$0")/gpu_session_common.sh"
if [ "${INSTALL:-1}" != 0 ]; then
  install_flopwatt
fi
write_environment "$OUT/environment.txt"
echo "setup took ${SECONDS} s"

# run_step NAME CAP_SECONDS LOG COMMAND...: COMMAND's stdout and stderr to LOG, under `timeout`
# for min(CAP_SECONDS, seconds left to the deadline); prints its exit status and the clock.
run_step() {
  local name=$1 cap=$2 log=$3
  shift 3
  local remaining=$((DEADLINE_SECONDS - SECONDS))
  local budget=$((remaining < cap ? remaining : cap))
  if [ "$budget" -lt "$MIN_STEP_SECONDS" ]; then
    echo "$name skipped: ${budget} s for it (cap ${cap} s, ${remaining} s to the ${DEADLINE_SECONDS} s deadline)" | tee "$log"
    return
  fi
  timeout "$budget" "$@" >"$log" 2>&1
  local status=$?
  echo "$name: exit ${status}$([ "$status" = 124 ] && echo " (timed out after ${budget} s)"), at ${SECONDS} s"
}

run_step "stream kernel test" "$STREAM_TEST_SECONDS" "$OUT/pytest-stream.log" \
  python3 -m pytest -q -p no:cacheprovider -rs tests/gpu/test_gpu_suite.py -k stream
run_step "stream sizes" "$STREAM_SIZES_SECONDS" "$OUT/stream-sizes.log" \
  python3 -m flopwatt.bench.diagnostics.stream_sizes --output "$OUT/stream-sizes.json"
# shellcheck disable=SC2086  # DECODE_ARGS is a list of flags
run_step "decode dispatch" "$DECODE_SECONDS" "$OUT/decode-dispatch.log" \
  python3 -m flopwatt.bench.diagnostics.decode_dispatch --device "$DECODE_DEVICE" $DECODE_ARGS \
  --output "$OUT/decode-dispatch.json"

# 5. With the time left: the closed loop on Llama-3.1-8B's layer shape (issue 13: "Llama-3.1-8B
#    layers at TP1 as memory allows"; bench/closed_loop_model.PRESETS, 8 of its 32 layers), the
#    second training shape predicted on a GPU, ~60 s estimated: closed-loop-8b.json (the binding
#    JSON alone) and closed-loop-8b.log. Skipped with CLOSED_LOOP_PRESET= (empty).
CLOSED_LOOP_PRESET=${CLOSED_LOOP_PRESET-llama-3.1-8b-layers}
CLOSED_LOOP_SECONDS=${CLOSED_LOOP_SECONDS:-120}
if [ -n "$CLOSED_LOOP_PRESET" ]; then
  closed_loop_data=$(mktemp -d)
  remaining=$((DEADLINE_SECONDS - SECONDS))
  budget=$((remaining < CLOSED_LOOP_SECONDS ? remaining : CLOSED_LOOP_SECONDS))
  if [ "$budget" -ge 45 ]; then
    timeout "$budget" python3 -m flopwatt validate --local --device "$DECODE_DEVICE" --preset "$CLOSED_LOOP_PRESET" \
      --measure-workload --json --data-dir "$closed_loop_data" >"$OUT/closed-loop-8b.json" 2>"$OUT/closed-loop-8b.log"
    echo "closed loop ($CLOSED_LOOP_PRESET): exit $?, at ${SECONDS} s"
  else
    echo "closed loop ($CLOSED_LOOP_PRESET) skipped: ${budget} s left" | tee "$OUT/closed-loop-8b.log"
  fi
fi

echo "=== summary (${SECONDS} s) ==="
echo "--- pytest -k stream"
tail -n 6 "$OUT/pytest-stream.log"
echo "--- stream sizes (best/torch copy: tests/gpu asks >= 0.95 of Numba copy and triad)"
grep -E "TB/s|needs|skipped|Error" "$OUT/stream-sizes.log" | tail -n 24
echo "--- decode dispatch"
tail -n 12 "$OUT/decode-dispatch.log"
if [ -s "$OUT/closed-loop-8b.json" ]; then
  echo "--- closed loop"
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for check in ("training_step", "decode_step", "ddp_training_step"):
    print(check, {k: d[check].get(k) for k in ("predicted_seconds", "datasheet_predicted_seconds", "measured_seconds", "error_percent")})' \
    "$OUT/closed-loop-8b.json"
fi
ls -la "$OUT"
