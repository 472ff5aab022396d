# Two commands for a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PRESET ?= cpu-quick
CATALOG ?= data/sample
OUT ?= outputs/demo
PYTEST_ARGS ?=
DEMO_ARGS ?=
TESTS ?= tests
TEST_WORKERS ?= 2

.PHONY: demo test setup bench gpu-carry clean

$(STAMP): requirements.lock requirements-dev.lock setup.py scripts/find_python310.sh
	@py=$$(scripts/find_python310.sh) || exit 1; \
	 echo "[setup] using $$py"; \
	 [ -x $(PY) ] || $$py -m venv $(VENV) || { echo "error: '$$py -m venv' failed; install the venv module (e.g. apt-get install python3.10-venv)"; exit 1; }
	$(PY) -m pip install -q --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --python $(PY) -r requirements.lock -r requirements-dev.lock
	$(VENV)/bin/uv pip install --python $(PY) --no-deps -e .
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/vitrine demo --catalog $(CATALOG) --preset $(PRESET) --output $(OUT) $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest $(TESTS) --verbose -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/train_throughput.py
	$(PY) bench/serve_load.py

# what a lent GPU's run carries (the gpu preset's data steps, judge and arrays; the wheels): ~45 minutes on 2 cores
gpu-carry: $(STAMP)
	$(PY) bench/prepare_gpu_run.py

clean:
	rm -rf $(VENV) outputs work_dirs serving_model .jaxdata .whl
