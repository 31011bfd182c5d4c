# pads-stream images. One Python image runs the worker, the bridge, the HTTP API and the webhook
# notifier (the command picks which); the reference Node backend has its own small target.
#
#   docker build -t pads-stream .                               # worker / bridge / API / notifier (default target)
#   docker build -t pads-stream-backend --target backend .      # reference socket.io backend
#
# docker-compose.yml builds both and runs the whole system. `make lint` checks this file with
# hadolint (no Docker engine needed); tests/unit/test_containers.py checks what the project
# relies on (stages, non-root users, the chart page's vendor files).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# --- npm packages from the lock file: the backend's socket.io, the chart page's browser files ---
FROM ${NODE_IMAGE} AS node-deps
WORKDIR /src
COPY package.json package-lock.json ./
# --omit=optional --ignore-scripts: no anvil binary (the chain is external to the containers).
RUN npm ci --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error

# --- reference socket.io backend (docker build --target backend) ---------------------------------
FROM ${NODE_IMAGE} AS backend
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3001
WORKDIR /app
COPY --from=node-deps /src/node_modules ./node_modules
COPY backend/server.js ./backend/server.js
# The node images' unprivileged user "node"; numeric, so that runAsNonRoot-style checks can verify it.
USER 1000:1000
EXPOSE 3001
CMD ["node", "backend/server.js"]

# --- Python dependencies into a venv, with compilers for any sdist -------------------------------
FROM ${PYTHON_IMAGE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /src
# Only the dependency list of pyproject.toml: this layer is rebuilt when dependencies change,
# not on every source change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -r requirements.txt

# --- runtime: worker (default command), bridge, API, notifier ------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# An unprivileged user; /data is the only place it writes (worker table state, bridge checkpoint).
RUN groupadd --system --gid 10001 pads \
    && useradd --system --uid 10001 --gid pads --home-dir /app --no-create-home --shell /usr/sbin/nologin pads \
    && mkdir -p /data \
    && chown pads:pads /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# The chart page serves these two files from <project root>/node_modules (pads_stream/api/page.py).
COPY --from=node-deps /src/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js \
     ./node_modules/lightweight-charts/dist/
COPY --from=node-deps /src/node_modules/socket.io-client/dist/socket.io.min.js ./node_modules/socket.io-client/dist/
# The source, owned by root and read-only for the app user; run from /app, not installed, so that
# page.py finds /app/node_modules as it finds the project's node_modules in a checkout.
COPY bridge ./bridge
COPY pads_stream ./pads_stream
RUN python -m compileall -q bridge pads_stream
USER 10001:10001
ENV DATA_DIR=/data/worker \
    BRIDGE_STATE_FILE=/data/bridge-checkpoint.json
# /health, /ready, /metrics: 6066 the worker's (WEB_PORT), 6068 the bridge's (BRIDGE_WEB_PORT,
# with BRIDGE_WEB_HOST=0.0.0.0), 6069 the notifier's (NOTIFY_PORT, with NOTIFY_HOST=0.0.0.0);
# 8000: the API (API_HOST=0.0.0.0 API_PORT=8000).
EXPOSE 6066 6068 6069 8000
# Bridge: python -m bridge. API: python -m pads_stream api. Notifier: python -m pads_stream notify.
# Operator tools: python -m pads_stream --help.
CMD ["faust", "-A", "pads_stream", "worker", "-l", "info"]
