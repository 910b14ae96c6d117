# ragqa API image: CPU-only torch, the bundled MiniLM model, and its ONNX export made at build
# time so that containers start answering in about a second.
FROM python:3.11-slim

RUN apt-get update && apt-get install -y --no-install-recommends git curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 ragqa

WORKDIR /app
# torch first, from the CPU wheel index: otherwise pip pulls a multi-GB CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY ragqa ragqa
COPY prompts prompts
RUN pip install --no-cache-dir -e . \
    && python -c "from pathlib import Path; from ragqa.index.embedders import LocalEmbedder; \
LocalEmbedder(None, 32, Path('/opt/ragqa/models')).embed_query('build-time ONNX export')" \
    && chmod -R a+rX /opt/ragqa

ENV RAGQA_STORAGE_DIR=/data \
    RAGQA_ONNX_DIR=/opt/ragqa/models \
    RAGQA_HOST=0.0.0.0 \
    RAGQA_PORT=8000 \
    HF_HUB_OFFLINE=1
RUN mkdir -p /data && chown ragqa /data
USER ragqa
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://localhost:8000/healthz || exit 1
# Listening on 0.0.0.0 requires RAGQA_ASK_TOKENS / RAGQA_ADMIN_TOKENS (the server refuses otherwise).
CMD ["ragqa", "serve"]
