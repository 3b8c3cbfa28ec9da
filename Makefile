# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup web demo test test-prod load-test chaos bench clean notebooks lock

setup: $(STAMP)

# Create the virtual environment and install the locked dependency set.
# torch is installed first so pip takes the CPU build that lies on this machine's disk.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$$(grep '^torch==' requirements.lock)"
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip uninstall -q -y smartpay 2>/dev/null || true  # the old distribution name
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# The web app (web/, React + Vite) builds into serving/webapp/dist, which the API serves
# at /app. Without npm it is left unbuilt (the browser tests then skip, except in CI).
WEB_SRC := $(shell find web/src web/index.html web/vite.config.ts web/tsconfig.json \
	web/package.json web/package-lock.json -type f 2>/dev/null)
WEB_DIST := serving/webapp/dist/index.html

web: $(WEB_DIST)

$(WEB_DIST): $(WEB_SRC)
	@if command -v npm >/dev/null 2>&1; then \
		cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build; \
	else echo "npm not found: the web app is not built (/app says how to build it)"; fi

demo: setup web
	$(VENV)/bin/smartpay demo

test: setup web
	$(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=25

# The fast lane: the payment domain on fake ports and pure unit tests that need no
# servers, stand-ins, trained models or Feast (under 30 s on two cores).
.PHONY: test-fast
test-fast: setup
	$(PY) -m pytest -q -p no:randomly tests/serving/payments \
		tests/serving/test_cache.py tests/serving/test_batching.py \
		tests/integrations/gateways/test_resilience.py \
		tests/integrations/rag/test_chunking.py tests/integrations/rag/test_redact.py \
		tests/serving/security/test_redaction.py \
		tests/models/fraud/test_metrics.py tests/models/fraud/test_protocol.py \
		tests/models/fraud/test_thresholds_drift_gate.py \
		tests/models/router/test_world.py tests/pipelines/router/test_nodes.py \
		tests/pipelines/test_simulate.py tests/infra/test_alerts.py

test-prod: setup
	SMARTPAY_REQUIRE_PROD=1 $(PY) -m pytest -q -m prod

# Re-execute every notebook on the small world (a throwaway data dir) and save it with its
# outputs, figures included, for committing; the tests check the committed ones kept them.
notebooks: setup
	$(PY) notebooks/render.py

load-test: setup
	$(PY) -m benchmarks.load_test

# Availability under faults: 5 minutes of /pay at 100/s while model workers are
# killed and the Stripe stand-in restarts; every request accounted for.
chaos: setup
	$(PY) -m benchmarks.chaos --json benchmarks/results/chaos.json

clean:
	rm -rf $(VENV) data .pytest_cache serving/webapp web/node_modules

# The portable, hashed lock for other machines (requirements-portable.lock): the versions
# of requirements.lock, resolved against PyPI with every wheel's hash. torch and its CUDA
# packages are left out: the CPU build comes from the PyTorch CPU index (README,
# "Installing"). Needs uv (`pip install uv==0.13.9`) and PyPI.
lock:
	sed 's/+cpu$$//' requirements.lock | grep -v '^#' > .lock-constraints.txt
	uv pip compile requirements.in -c .lock-constraints.txt --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-annotate \
		--no-header --no-emit-package torch \
		$$(sed 's/^/--no-emit-package /' requirements-portable.exclude) \
		-o requirements-portable.lock.new
	rm .lock-constraints.txt
	{ sed -n '1,/^$$/p' requirements-portable.lock; cat requirements-portable.lock.new; } \
		> requirements-portable.lock.tmp
	mv requirements-portable.lock.tmp requirements-portable.lock
	rm requirements-portable.lock.new

