#!/usr/bin/env bash
# Installs everything pads-stream needs on a fresh Debian machine, idempotently:
# system packages, a Python venv with the project, npm packages, compiled contracts and the
# Kafka broker jars. Safe to run again; it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
command -v node >/dev/null || need_apt+=(nodejs npm)
python3 -c 'import ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# Debian's chromium for the chart page's browser tests (Playwright drives it; it never downloads one)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# Debian's prometheus: a real scraper for the metrics test, and promtool for `make lint`
command -v promtool >/dev/null || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Debian's docker-compose (v1) validates docker-compose.yml for `make lint` with no Docker engine;
# without its recommends, which would bring the engine (docker.io).
if ! command -v docker-compose >/dev/null; then
  echo "setup: apt-get install docker-compose"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "setup: pip install -e .[dev]"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[dev]'
  touch .venv/.installed
fi

.venv/bin/python -m stack install
echo "setup: done"
