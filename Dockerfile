FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DATABASE_PATH=/data/bot.db
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY locales ./locales
RUN pip install --no-cache-dir . && useradd --system --home /app bot && mkdir /data && chown bot /data
ENV LOCALES_DIR=/app/locales
USER bot
VOLUME ["/data"]
CMD ["python", "-m", "bot"]
