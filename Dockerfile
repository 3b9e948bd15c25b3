# nnintro on an official PyTorch CUDA runtime image (CUDA, cuDNN and Python inside; pip brings torch to the floor).
#   docker build -t nnintro .
#   docker run --gpus all -v "$PWD/data:/app/data" -v "$PWD/runs:/app/runs" nnintro train --config cifar_mlp.yaml
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg

WORKDIR /app

# dependencies first (cached while only the code changes); pip upgrades the base image's torch to the
# floor in pyproject.toml (2.11, the oldest release the test suite has passed on)
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
