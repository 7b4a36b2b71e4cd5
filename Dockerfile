# syntax=docker/dockerfile:1
# watcher daemon image: wheels are built in the first stage, the runtime stage has no compilers,
# runs as a fixed non-root uid, keeps its SQLite database on the /data volume and takes secrets
# (HF_TOKEN, GITHUB_TOKEN, SLACK_BOT_TOKEN / SLACK_WEBHOOK_URL) only from the environment at run time.
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY watcher ./watcher
# The project's wheel and every dependency's wheel (PostgreSQL driver included), so the runtime stage
# installs offline from /wheels and never needs a compiler.
RUN pip wheel --wheel-dir /wheels ".[postgres]"

FROM python:${PYTHON_VERSION}-slim AS runtime
ARG UID=10001
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/data \
    HF_HOME=/data/.cache/huggingface \
    WATCHER_CONFIG=/etc/watcher/config.yaml \
    WATCHER_DATABASE_URL=sqlite:////data/watcher.db \
    WATCHER_LOG_FORMAT=json
# --no-index: the only versions pip can pick are the wheels the build stage just made (DL3013 does not apply).
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels "openweights-watcher[postgres]" \
    && groupadd --system --gid "${UID}" watcher \
    && useradd --system --uid "${UID}" --gid watcher --home-dir /data --no-create-home --shell /usr/sbin/nologin watcher \
    && mkdir -p /data /etc/watcher \
    && chown "${UID}:${UID}" /data
COPY config.yaml /etc/watcher/config.yaml
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 9108
STOPSIGNAL SIGTERM
# Docker reserves exit code 2 for itself, so a config/database error (2) is reported as unhealthy (1).
HEALTHCHECK --interval=60s --timeout=15s --start-period=2m --retries=3 \
    CMD ["sh", "-c", "watcher status --check || exit 1"]
CMD ["watcher", "run"]
