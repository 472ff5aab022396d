# The pipeline image for Kubeflow: project code + the pinned dependencies.
# Build: docker build -t REGISTRY/vitrine:TAG .   then: vitrine compile --kubeflow --image REGISTRY/vitrine:TAG
# For GPU training nodes, build FROM a CUDA base with Python 3.10 (e.g. tensorflow/tensorflow:2.16.2-gpu) instead.
FROM python:3.10-slim

# TF_ENABLE_ONEDNN_OPTS=1: oneDNN's CPU kernels on every x86 CPU, as `vitrine` sets them (models/onednn.py)
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 TF_CPP_MIN_LOG_LEVEL=2 TF_ENABLE_ONEDNN_OPTS=1
WORKDIR /pipeline

RUN pip install --no-cache-dir uv
COPY requirements.lock .
RUN uv pip install --system --no-cache -r requirements.lock

COPY setup.py ARCHITECTURE.md ./
COPY pipeline pipeline
COPY components components
COPY models models
COPY data data
COPY serving serving
RUN uv pip install --system --no-deps -e .
# No ENTRYPOINT: the compiled spec sets each container's command (TFX's Kubeflow v2 launchers).
