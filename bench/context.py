"""The context recorded with every profile (anchors-microbench §7.1): device identity, software
versions, clocks and power limit, and the environment variables that change results."""

from __future__ import annotations

import os
import platform
import socket
import sys
from pathlib import Path

RELEVANT_ENVIRONMENT_PREFIXES = ("NCCL_", "CUDA_", "PYTORCH_", "OMP_", "MKL_", "NUMBA_", "TORCH_")
PROC_CPUINFO = Path("/proc/cpuinfo")


def _cpu_model_name(cpuinfo: Path = PROC_CPUINFO) -> str:
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def _software_versions() -> dict:
    import numba
    import numpy
    import torch

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numba": numba.__version__,
        "numpy": numpy.__version__,
        "cuda": torch.version.cuda,
        "platform": platform.platform(),
    }
    try:
        from flopwatt.kernels.numba_cuda_compat import restore_numpy_aliases_numba_cuda_needs

        restore_numpy_aliases_numba_cuda_needs()
        from numba import cuda as numba_cuda

        versions["numba_cuda_implementation"] = getattr(numba_cuda, "implementation", "built-in")
    except Exception as error:  # numba.cuda import can fail without a driver; say so
        versions["numba_cuda_implementation"] = f"unavailable: {error}"
    return versions


def relevant_environment_variables() -> dict:
    return {k: v for k, v in sorted(os.environ.items()) if k.startswith(RELEVANT_ENVIRONMENT_PREFIXES)}


def host_name() -> str:
    return socket.gethostname()


def cpu_device() -> dict:
    import torch

    return {
        "kind": "cpu",
        "name": _cpu_model_name(),
        "uuid": None,
        "hardware_id": None,
        "core_count": os.cpu_count() or 1,
        "torch_threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }


def cuda_device(index: int = 0) -> dict:
    import torch

    props = torch.cuda.get_device_properties(index)
    uuid = getattr(props, "uuid", None)
    return {
        "kind": "cuda",
        "name": props.name,
        "uuid": f"GPU-{uuid}"
        if uuid is not None and not str(uuid).startswith("GPU-")
        else (str(uuid) if uuid else None),
        "hardware_id": None,
        "sm_count": props.multi_processor_count,
        "compute_capability": f"{props.major}.{props.minor}",
        "memory_bytes": int(props.total_memory),
        "l2_cache_bytes": int(getattr(props, "L2_cache_size", 0)) or None,
        "index": index,
    }


def environment(device_kind: str) -> dict:
    """Software versions and relevant variables; GPU clocks and limits are added from NVML."""
    result = _software_versions()
    result["python_executable"] = sys.executable
    result["variables"] = relevant_environment_variables()
    if device_kind == "cuda":
        import torch

        result["cudnn"] = torch.backends.cudnn.version()
        try:
            result["nccl"] = ".".join(str(p) for p in torch.cuda.nccl.version())
        except Exception:  # torch built without NCCL
            result["nccl"] = None
    else:
        import numba

        result["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    return result
