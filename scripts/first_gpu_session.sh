#!/usr/bin/env bash
# The "first GPU session" checklist of docs/benchmarks.md as one script, for one device call.
#
# Why one script with a deadline: a lent GPU machine gives 15 minutes of device time in all and
# one command may run 10 minutes, so each step gets its own `timeout` and the most valuable
# the short GPU tests (which write the quick profile) run first, then the full suite gets the rest. Everything lands under $OUT (at most 8 files).
#
# Usage on the device machine (repository root):  OUT=/some/dir bash scripts/first_gpu_session.sh
# Optional: .whl/ holding wheels for packages the device image lacks (grpcio-status,
# grpcio-health-checking, grpcio-reflection, googleapis-common-protos, cryptography, protobuf).
set -o pipefail
export PYTHONUNBUFFERED=1
: "${OUT:?set OUT to the folder that receives the results}"
DEADLINE_SECONDS=${DEADLINE_SECONDS:-570}
SECONDS=0

if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site || exit 1
fi
python3 -m pip install -q --no-deps --no-build-isolation -e . \
  || python3 -m pip install -q --no-deps --no-build-isolation . || exit 1

{
  date -u +"date %Y-%m-%dT%H:%M:%SZ"
  python3 -c "import torch, numba, numba.cuda as c; print('torch', torch.__version__, 'numba', numba.__version__, 'numba-cuda', getattr(c, '__version__', '?'), c.implementation, torch.cuda.get_device_name())"
  nvidia-smi --query-gpu=name,uuid,driver_version,power.limit,clocks.max.sm,mig.mode.current,temperature.gpu --format=csv
  git log -1 --format="commit %H %s"
} 2>&1 | tee "$OUT/environment.txt"
echo "setup took ${SECONDS} s"

remaining=$((DEADLINE_SECONDS - SECONDS))
if [ "$remaining" -gt 30 ]; then
  FLOPWATT_GPU_PROFILE_OUTPUT="$OUT/h100-quick.json" timeout "$remaining" \
    python3 -m pytest -q -p no:cacheprovider -rs tests/gpu 2>&1 | tee "$OUT/pytest-gpu.log"
  echo "tests/gpu: exit ${PIPESTATUS[0]}, at ${SECONDS} s"
else
  echo "tests/gpu skipped: ${remaining} s left"
fi
remaining=$((DEADLINE_SECONDS - SECONDS))
timeout "$remaining" python3 -m flopwatt bench --device cuda --suite full --no-store \
  --output "$OUT/h100-full.json" 2>&1 | tee "$OUT/bench-full.log"
echo "full suite: exit ${PIPESTATUS[0]}, at ${SECONDS} s"

ls -la "$OUT"
