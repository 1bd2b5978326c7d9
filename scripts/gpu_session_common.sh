# Shared by the device-call scripts (first_gpu_session.sh, gpu_followup.sh); source it, do not
# run it. Why: every device call starts on a bare machine, so each script installs flopwatt and
# records the environment the same way, and one copy of those steps keeps them the same.

# Install flopwatt (editable, else a plain install) without touching the image's torch / numba;
# wheels under .whl/ (packages the device image lacks: grpcio-status, grpcio-health-checking,
# grpcio-reflection, googleapis-common-protos, cryptography, protobuf) go to /tmp/site first.
# Exits the calling script when an install fails.
install_flopwatt() {
  if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      && export PYTHONPATH=/tmp/site || exit 1
  fi
  python3 -m pip install -q --no-deps --no-build-isolation -e . \
    || python3 -m pip install -q --no-deps --no-build-isolation . || exit 1
}

# Date, torch / Numba versions and device, the GPU's state and the commit, to stdout and $1.
write_environment() {
  {
    date -u +"date %Y-%m-%dT%H:%M:%SZ"
    python3 -c "import torch, numba, numba.cuda as c; print('torch', torch.__version__, 'numba', numba.__version__, 'numba-cuda', getattr(c, '__version__', '?'), c.implementation, torch.cuda.get_device_name())"
    nvidia-smi --query-gpu=name,uuid,driver_version,power.limit,clocks.max.sm,mig.mode.current,temperature.gpu --format=csv
    git log -1 --format="commit %H %s"
  } 2>&1 | tee "$1"
}
