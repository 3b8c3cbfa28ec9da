# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-prod load-test bench clean

setup: $(STAMP)

# Create the virtual environment and install the locked dependency set.
# torch is installed first so pip takes the CPU build that lies on this machine's disk.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$$(grep '^torch==' requirements.lock)"
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: setup
	$(VENV)/bin/smartpay demo

test: setup
	$(PY) -m pytest -q -n 2 --dist loadfile

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

load-test: setup
	$(PY) -m benchmarks.load_test

clean:
	rm -rf $(VENV) data .pytest_cache
