# backlog-mcp over HTTP for a team: a small image, run as a user without privileges.
# Build: docker build -t backlog-mcp .   Run with Valkey: docker compose up (compose.yaml).
FROM python:3.12.8-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY backlog_mcp ./backlog_mcp
COPY migrations ./migrations
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.12.8-slim-bookworm
RUN useradd --system --uid 10001 --create-home --home-dir /home/backlog backlog \
 && install -d -o backlog -g backlog -m 0700 /home/backlog/audit
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BACKLOG_LOG_FORMAT=json \
    BACKLOG_AUDIT_LOG=/home/backlog/audit/audit.jsonl
USER backlog
WORKDIR /home/backlog
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["backlog-mcp"]
CMD ["--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
