.PHONY: setup demo test unit integration lint compose-check bench bench-smoke

setup:
	./scripts/setup.sh

# Sets up everything from nothing and runs chain + simulator + bridge + worker + backend.
demo: setup
	.venv/bin/python -m stack demo

# The test command: unit and integration tests (real Kafka, Redis, anvil and Node backend).
test: setup
	.venv/bin/python -m pytest tests -v

unit: setup
	.venv/bin/python -m pytest tests/unit -q

integration: setup
	.venv/bin/python -m pytest tests/integration -v

lint: setup compose-check
	.venv/bin/ruff check pads_stream bridge simulator stack tests benchmarks
	.venv/bin/mypy
	.venv/bin/lint-imports
	promtool check rules stack/prometheus/alerts.yml

# The container files, checked without a Docker engine: the compose file against compose's schema
# and interpolation (Debian's docker-compose; the required variables get dummy values), the
# Dockerfile with hadolint, and the compose Prometheus config with promtool.
COMPOSE_CHECK_ENV = BONDING_CURVE_FACTORY_ADDRESS=0x0000000000000000000000000000000000000000 BACKEND_SOCKET_TOKEN=compose-check
compose-check: setup
	$(COMPOSE_CHECK_ENV) docker-compose -f docker-compose.yml config -q
	.venv/bin/hadolint Dockerfile
	promtool check config stack/prometheus/prometheus-compose.yml

# Throughput, memory, CPU and latency on a local stack; see benchmarks/README.md.
bench: setup
	.venv/bin/python -m benchmarks --trades 200000 --tokens 10,1000 --workers 1,2 --latency 100,500,1000,2000 --latency-seconds 15

bench-smoke: setup
	.venv/bin/python -m benchmarks --trades 2000 --tokens 10 --workers 1 --latency 100 --latency-seconds 3
