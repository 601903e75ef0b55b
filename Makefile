# pollwatch: two commands on a fresh machine with Python 3.11+ and make.
#   make run   - set up, write the 2024 forensics report, store a simulated observed election,
#                then serve the report, the coach and the observation service
#   make test  - set up, install what the tests need (Chromium), run the whole suite
PYTHON ?= python3
# The public election data; the library has no default of its own beyond pollwatch-data/.
POLLWATCH_DATA ?= $(abspath ../shared/data)
export POLLWATCH_DATA
VENV   ?= .venv
BIN    := $(VENV)/bin
# One stamp per install: `make run` needs only the package, `make test` adds the test tools,
# so `make test` after `make run` still installs them.
READY_RUN  := $(VENV)/.ready-run
READY_TEST := $(VENV)/.ready-test

.PHONY: run test lint bench clean browser postgres redis

$(READY_RUN): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(READY_TEST): $(READY_RUN)
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

run: $(READY_RUN)
	$(BIN)/pollwatch demo
	$(BIN)/pollwatch demo-observe
	@echo "Starting the web app on http://127.0.0.1:8000: the reports listed at / (e.g. /reports/russia-2024.html), the coach at /coach, the observation service at /coordinate, the voter guide at /guide (Ctrl-C stops it)"
	$(BIN)/pollwatch serve

browser:
	@sh scripts/ensure-chromium.sh

postgres:
	@sh scripts/ensure-postgres.sh

redis:
	@sh scripts/ensure-redis.sh

lint: $(READY_TEST)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

test: $(READY_TEST) browser postgres redis lint
	$(BIN)/python -m pytest -n 2 -q

bench: $(READY_TEST)
	$(BIN)/python bench/forensics.py
	$(BIN)/python bench/validation.py
	$(BIN)/python bench/coach.py
	$(BIN)/python bench/guide_search.py
	$(BIN)/python bench/queues.py
	$(BIN)/python bench/observe_stats.py

clean:
	rm -rf $(VENV) pollwatch-data .pytest_cache .mypy_cache .ruff_cache
