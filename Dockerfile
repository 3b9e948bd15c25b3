# nnintro on a slim Python image with one CUDA stack: PyTorch's Linux wheel from PyPI, built for CUDA 13.0, which
# brings its own CUDA libraries (the host needs an NVIDIA driver of the 580 series or newer, and the NVIDIA
# Container Toolkit for --gpus). A CPU-only image: --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu
#   docker build -t nnintro .
#   docker run --rm --gpus all -v "$PWD/runs:/app/runs" nnintro train        # the offline default
FROM python:3.12-slim-bookworm

ARG TORCH_INDEX=https://pypi.org/simple
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg

WORKDIR /app

# torch first, in its own layer (a few GB that change only with the floor); the ranges are pyproject.toml's, so
# installing nnintro next finds them met and brings no second torch
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" "torch>=2.11,<3" "torchvision>=0.26,<1"

COPY pyproject.toml README.md ./
COPY nnintro ./nnintro
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 1000 --shell /bin/bash nnintro \
    && mkdir -p /app/data /app/runs \
    && chown -R nnintro:nnintro /app

USER 1000:1000
VOLUME ["/app/data", "/app/runs"]
# TensorBoard, when the image is started with --entrypoint tensorboard
EXPOSE 6006

ENTRYPOINT ["nnintro"]
CMD ["--help"]
