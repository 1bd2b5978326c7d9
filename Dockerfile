# syntax=docker/dockerfile:1.7
# flopwatt for NVIDIA GPU hosts. Build: docker build --build-arg REVISION=$(git rev-parse --short HEAD) -t flopwatt .
# Run:   docker run --gpus all -p 50051:50051 -p 9464:9464 -v flopwatt-data:/var/lib/flopwatt flopwatt
ARG CUDA_VERSION=12.8.1
ARG UBUNTU_VERSION=24.04

# ---- build: a virtual environment with the CUDA build of torch and flopwatt ----
FROM nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu${UBUNTU_VERSION} AS build
ARG TORCH_VERSION=2.9.1
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev gcc \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/flopwatt
ENV PATH=/opt/flopwatt/bin:$PATH
RUN pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" "torch==${TORCH_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY flopwatt ./flopwatt
COPY kernels ./kernels
COPY bench ./bench
COPY service ./service
RUN pip install --no-cache-dir "./[cuda]"

# ---- runtime: CUDA runtime libraries, Python, the venv; no compiler, no root ----
FROM nvidia/cuda:${CUDA_VERSION}-runtime-ubuntu${UBUNTU_VERSION} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="flopwatt" \
      org.opencontainers.image.description="Estimates of the compute, time, energy, money and carbon of training and serving large neural networks, calibrated by measured GPU benchmarks" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/flopwatt/flopwatt" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --no-log-init -l -u 10001 -m -d /home/flopwatt flopwatt \
    && mkdir -p /var/lib/flopwatt \
    && chown flopwatt:flopwatt /var/lib/flopwatt
COPY --from=build /opt/flopwatt /opt/flopwatt
# NVML (energy counters) needs the `utility` capability besides `compute`.
ENV PATH=/opt/flopwatt/bin:$PATH \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    FLOPWATT_HOST=0.0.0.0 \
    FLOPWATT_METRICS_HOST=0.0.0.0 \
    FLOPWATT_DATA_DIR=/var/lib/flopwatt \
    FLOPWATT_REVISION=${REVISION} \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /home/flopwatt
VOLUME ["/var/lib/flopwatt"]
EXPOSE 50051 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["flopwatt", "health", "--timeout", "4"]
ENTRYPOINT ["flopwatt", "serve"]
