# The README's commands: `make test` and `make demo` (and `make bench`).
# Each creates .venv when it is missing and installs what it needs.

VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
QPD     := $(VENV)/bin/qpd
HOME_DIR ?= $(CURDIR)
TEST_DEBS  := nginx wrk chromium stunnel4 lighttpd curl gcc libc6-dev openjdk-17-jre-headless strace iproute2 logrotate postgresql
BENCH_DEBS := nginx wrk curl iproute2

.PHONY: test demo bench debs-test debs-bench clean

$(PYTHON):
	python3 -m venv $(VENV)

$(VENV)/.test-installed: pyproject.toml setup.py qpd/lib/_speedups.c | $(PYTHON)
	$(PYTHON) -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.installed: pyproject.toml setup.py qpd/lib/_speedups.c | $(PYTHON)
	$(PYTHON) -m pip install -q -e .
	touch $@

$(VENV)/.bench-installed: pyproject.toml setup.py qpd/lib/_speedups.c | $(PYTHON)
	$(PYTHON) -m pip install -q -e '.[bench]'
	touch $@

debs-test:
	@scripts/ensure-debs $(TEST_DEBS)

debs-bench:
	@scripts/ensure-debs $(BENCH_DEBS)

test: $(VENV)/.test-installed debs-test
	$(PYTHON) -m pytest -q tests

demo: $(VENV)/.installed
	@$(QPD) --home $(HOME_DIR) demo

bench: $(VENV)/.bench-installed debs-bench
	$(PYTHON) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
