#!/usr/bin/env bash
# Installs torch into the virtual environment whose python is $1, the CPU build on a host
# without an NVIDIA GPU. Why a script: `pip install torch==X` on public PyPI for Linux pulls the
# CUDA build (gigabytes of nvidia-* wheels) even where no GPU will ever use it; the PyTorch
# CPU wheel index serves the CPU build under the same version. That index is tried first, with a
# short timeout and no retries, so a host that cannot reach it (an air-gapped mirror, a PyPI-only
# proxy) falls back to the plain spec within seconds instead of minutes.
#   $2: the requirement (default torch==2.13.0); $3: yes when the host has a GPU (pip's default build).
#   TORCH_CPU_INDEX_URL overrides the CPU index; empty skips it.
set -euo pipefail
python=${1:?usage: install_torch.sh VENV_PYTHON [SPEC] [HAS_GPU]}
spec=${2:-torch==2.13.0}
has_gpu=${3:-}
cpu_index=${TORCH_CPU_INDEX_URL-https://download.pytorch.org/whl/cpu}
if [ -z "$has_gpu" ] && [ -n "$cpu_index" ]; then
  if "$python" -m pip install -q --index-url "$cpu_index" --timeout 5 --retries 0 "$spec" 2>/dev/null; then
    exit 0
  fi
  echo "install_torch: the PyTorch CPU index ($cpu_index) did not serve $spec; installing it from the default index" >&2
fi
"$python" -m pip install -q "$spec"
