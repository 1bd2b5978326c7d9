"""Plain copies through torch: device-to-device (`Tensor.copy_`, the cudaMemcpy-class baseline
the STREAM kernels are judged against) and pinned host↔device transfers.

Bytes: a device copy reads and writes every byte (2·size, STREAM/bandwidthTest D2D convention);
a host↔device transfer moves each byte once over the link (size), as nvbandwidth reports it.
"""

from __future__ import annotations

from flopwatt.kernels.workload import VerificationError, Workload

FLOAT32_BYTES = 4


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")


def build_device_copy(size_bytes: int, device: str, seed: int = 0) -> Workload:
    """dst ← src for two float32 buffers of `size_bytes` each on `device`."""
    import torch

    _positive("size_bytes", size_bytes)
    elements = size_bytes // FLOAT32_BYTES
    _positive("size_bytes // 4", elements)
    generator = torch.Generator(device=device).manual_seed(seed)
    src = torch.randn(elements, device=device, generator=generator)
    dst = torch.empty_like(src)

    def run() -> object:
        return dst.copy_(src)

    def verify() -> None:
        dst.fill_(float("nan"))
        run()
        if not torch.equal(dst, src):
            raise VerificationError("copy: destination differs from source")

    return Workload(
        kernel="copy",
        precision="fp32",
        shape={"elements": elements},
        flops=0.0,
        bytes=2.0 * elements * FLOAT32_BYTES,
        device=device,
        run=run,
        verify=verify,
        working_set_bytes=2 * elements * FLOAT32_BYTES,
        extra={"implementation": "torch"},
    )


def build_host_device_copy(size_bytes: int, direction: str, seed: int = 0) -> Workload:
    """A pinned host buffer copied to the GPU ("host_to_device") or back ("device_to_host")."""
    import torch

    _positive("size_bytes", size_bytes)
    if direction not in ("host_to_device", "device_to_host"):
        raise ValueError(f"direction: expected host_to_device or device_to_host, got {direction!r}")
    elements = size_bytes // FLOAT32_BYTES
    _positive("size_bytes // 4", elements)
    generator = torch.Generator().manual_seed(seed)
    host = torch.randn(elements, generator=generator).pin_memory()
    device_buffer = torch.randn(elements, device="cuda")
    if direction == "host_to_device":
        source, target = host, device_buffer
    else:
        device_buffer.copy_(host)
        host = torch.empty(elements).pin_memory()
        source, target = device_buffer, host

    def run() -> object:
        return target.copy_(source, non_blocking=True)

    def verify() -> None:
        run()
        torch.cuda.synchronize()
        if not torch.equal(target.cpu() if target.is_cuda else target, source.cpu()):
            raise VerificationError(f"{direction}: destination differs from source")

    return Workload(
        kernel=direction,
        precision="fp32",
        shape={"elements": elements},
        flops=0.0,
        bytes=float(elements * FLOAT32_BYTES),
        device="cuda",
        run=run,
        verify=verify,
        working_set_bytes=elements * FLOAT32_BYTES,
    )
