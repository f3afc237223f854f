# syntax=docker/dockerfile:1
# Installer Bot. Build: docker build -t installer-bot .
# Run: docker run --env-file .env -v botdata:/data -p 8080:8080 installer-bot (or compose.yaml)
# Pinned by version; override with --build-arg PYTHON_IMAGE=... (e.g. a digest-pinned mirror).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# Dependencies first, from the hashed lock: this layer changes only when the lock does.
COPY requirements.txt ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.txt
# Then the bot itself (setuptools, its build backend, came from the lock).
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation --no-compile . \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib

FROM ${PYTHON_IMAGE}
# Tesseract reads printed IMEIs when no barcode does (optional: --build-arg WITH_OCR=0).
ARG WITH_OCR=1
# Debian's package versions follow the pinned base image's release.
# hadolint ignore=DL3008
RUN if [ "$WITH_OCR" = 1 ]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends tesseract-ocr \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot /data
COPY --from=build /opt/venv /opt/venv
COPY locales /app/locales
WORKDIR /app
# DATA_DIR: a relative DATABASE_PATH (as in .env.example) lands in the volume too.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    DATABASE_PATH=bot.db \
    LOCALES_DIR=/app/locales \
    HEALTH_PORT=8080 \
    HEALTH_HOST=0.0.0.0
USER 10001
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
# Exec form: SIGTERM reaches the bot, which stops cleanly in about a second.
CMD ["python", "-m", "bot"]
