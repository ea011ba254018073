# `make demo` and `make test` work on a fresh machine with only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck pytest mail-tools bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/coffeechat demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# The real Dovecot, mbsync and offlineimap the Maildir tests run (apt-get as root, else the
# one `sudo apt-get install` line to run).
mail-tools:
	sh tools/mail-tools.sh

# The whole suite runs in an unusual local zone (UTC+13/+12, with DST) so that any use of
# the machine's zone shows up; the time-arithmetic tests run once more under UTC.
pytest: $(VENV)/.installed-test mail-tools
	TZ=Pacific/Auckland $(BIN)/pytest -q
	TZ=UTC $(BIN)/pytest -q -p no:cacheprovider tests/test_planner.py tests/test_tagging.py tests/test_local_calendar.py \
		tests/test_planner_timing.py tests/test_timing.py

test: mail-tools lint typecheck pytest

# The benchmark of issue 7 (a few minutes; `make bench BENCH_ARGS=--quick` for a smoke run):
# markdown tables on stdout, figures in bench/results.json.
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# The generated docs (docs/configuration.md's keys, docs/templates.md's variables and the man
# page docs/coffeechat.1), made again from the code; tests fail while they are stale.
docs: $(VENV)/.installed
	$(BIN)/python -m daemon.app.reference
	$(BIN)/python -m daemon.app.manpage

clean:
	rm -rf $(VENV) coffeechat-demo .pytest_cache .mypy_cache .ruff_cache build *.egg-info
