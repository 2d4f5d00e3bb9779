# microfactory: `make demo` starts the whole system on embedded defaults; `make test` runs every test.
# Both do all their own set-up on a fresh Debian machine with Python 3.11.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export FACTORY_INSTANCE_DIR ?= $(CURDIR)/instance
HOST ?= 127.0.0.1
PORT ?= 5000
# The demo's own broker; not 1883, where a Mosquitto installed by apt-get may already run as a service.
DEMO_MQTT_URL ?= mqtt://127.0.0.1:1884

.PHONY: demo test bench lint screenshots system-packages demo-packages clean

# $(call apt_get,PACKAGES,OTHERWISE): install Debian packages when root with apt-get, else run OTHERWISE.
apt_get = if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing $(1) with apt-get"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1); \
	else $(2); fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# The web app in the foreground; beside it `factory demo-machines` runs the broker, the ingest, the planner
# and the simulated printer, mill and kiln (logs in $(FACTORY_INSTANCE_DIR)/demo/logs). Ctrl-C stops them all.
demo: export FACTORY_MQTT_URL = $(DEMO_MQTT_URL)
demo: $(VENV)/.installed demo-packages
	$(BIN)/factory init-db
	$(BIN)/factory seed-demo
	@echo ""
	@echo "microfactory is starting on http://$(HOST):$(PORT)/  (Ctrl-C stops it)"
	@$(BIN)/factory demo-machines & machines=$$!; \
	trap 'kill -TERM $$machines 2>/dev/null; wait $$machines' EXIT INT TERM; \
	$(BIN)/factory run --host $(HOST) --port $(PORT)

system-packages:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	[ -x /usr/lib/postgresql/15/bin/initdb ] || missing="$$missing postgresql"; \
	[ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v mosquitto_sub >/dev/null 2>&1 || missing="$$missing mosquitto-clients"; \
	if [ -n "$$missing" ]; then \
	  $(call apt_get,$$missing,echo "WARNING: missing system packages:$$missing — their tests will be skipped (or fail under CI=true)"); \
	fi

# What `make demo` cannot run without: Mosquitto for the broker.
demo-packages:
	@[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || { \
	  $(call apt_get,mosquitto,echo "make demo needs Mosquitto: sudo apt-get install mosquitto"; exit 1); }

# One worker per core (pytest-xdist), each test file on one worker: 6 min 44 s instead of 12 min 23 s on 2 cores.
test: $(VENV)/.installed-test system-packages
	$(BIN)/python -m pytest -p no:cacheprovider -n auto --dist loadfile

screenshots: $(VENV)/.installed-test system-packages
	FACTORY_SCREENSHOT_DIR=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -p no:cacheprovider -q tests/e2e

# The registry script writes the file; the scheduler (~10-25 min) and ingest (~4 min, needs Mosquitto)
# scripts replace only their own sections.
bench: $(VENV)/.installed-test system-packages
	$(BIN)/python -m benchmarks.registry --out docs/benchmarks.md
	$(BIN)/python -m benchmarks.scheduler_bench --out docs/benchmarks.md
	$(BIN)/python -m benchmarks.ingest_bench --out docs/benchmarks.md
	$(BIN)/python -m benchmarks.plan_bench --out docs/benchmarks.md

lint: $(VENV)/.installed-test
	$(BIN)/ruff check factory scheduler drivers firmware_bridge tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
