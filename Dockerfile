# syntax=docker/dockerfile:1
# watcher daemon image: wheels are built in the first stage, the runtime stage has no compilers,
# runs as a non-root uid (ARG UID), keeps its SQLite database on the /data volume and takes secrets
# (HF_TOKEN, GITHUB_TOKEN or GH_TOKEN, SLACK_BOT_TOKEN / SLACK_WEBHOOK_URL, WATCHER_WEBHOOK_SECRET) only from
# the environment at run time.
#
# Reproducible: every dependency comes from requirements-lock.txt (exact versions, hash-checked); refresh
# it with `bash .ci/lock`. Base image policy: the tag names the Python minor and the Debian release, so
# neither changes under a rebuild; patch releases and security fixes arrive by rebuilding. For a
# bit-for-bit base, pass a digest: --build-arg BASE=python:3.11-slim-trixie@sha256:<digest>.
# Extras: --build-arg EXTRAS=postgres,plot adds matplotlib for `watcher cadence --plot` (~120 MB).
ARG BASE=python:3.11-slim-trixie

FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE requirements-lock.txt ./
COPY watcher ./watcher
# Every locked dependency's wheel (hash-checked; the PostgreSQL driver and the plot extra included) and
# the project's own, so the runtime stage installs offline from /wheels and never needs a compiler.
RUN pip wheel --require-hashes --wheel-dir /wheels -r requirements-lock.txt \
    && pip wheel --no-deps --wheel-dir /wheels .

FROM ${BASE} AS runtime
ARG UID=10001
ARG EXTRAS=postgres
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/data \
    HF_HOME=/data/.cache/huggingface \
    WATCHER_CONFIG=/etc/watcher/config.yaml \
    WATCHER_DATABASE_URL=sqlite:////data/watcher.db \
    WATCHER_LOG_FORMAT=json
# --no-index: the only versions pip can pick are the locked wheels the build stage made (DL3013 does not apply).
# hadolint ignore=DL3013
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels "openweights-watcher[${EXTRAS}]" \
    && groupadd --system --gid "${UID}" watcher \
    && useradd --system --uid "${UID}" --gid watcher --home-dir /data --no-create-home --shell /usr/sbin/nologin watcher \
    && mkdir -p /data /etc/watcher \
    && chown "${UID}:${UID}" /data
COPY config.yaml /etc/watcher/config.yaml
# The same ARG as the chown above: a --build-arg UID=... image can write its own /data.
USER ${UID}:${UID}
WORKDIR /data
VOLUME /data
# 9108: metrics (`metrics:`); 9109: the Hub webhook receiver (`webhooks:`), behind a TLS reverse proxy
EXPOSE 9108 9109
STOPSIGNAL SIGTERM
# Docker reserves exit code 2 for itself, so a config/database error (2) is reported as unhealthy (1).
HEALTHCHECK --interval=60s --timeout=15s --start-period=2m --retries=3 \
    CMD ["sh", "-c", "watcher status --check || exit 1"]
CMD ["watcher", "run"]
