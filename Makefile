# pollwatch: two commands on a fresh machine with Python 3.11+ and make.
#   make run   - set up, write the 2024 forensics report, then serve it and the coach
#   make test  - set up, install what the tests need (Chromium), run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.ready

.PHONY: run test lint bench clean browser postgres

$(READY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

run: $(READY)
	$(BIN)/pollwatch demo
	@echo "Starting the web app: the report at http://127.0.0.1:8000/reports/, the coach at http://127.0.0.1:8000/coach (Ctrl-C stops it)"
	$(BIN)/pollwatch serve

browser:
	@sh scripts/ensure-chromium.sh

postgres:
	@sh scripts/ensure-postgres.sh

lint: $(READY)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

test: $(READY) browser postgres lint
	$(BIN)/python -m pytest -n 2 -q

bench: $(READY)
	$(BIN)/python bench/forensics.py
	$(BIN)/python bench/validation.py
	$(BIN)/python bench/coach.py

clean:
	rm -rf $(VENV) pollwatch-data .pytest_cache .mypy_cache .ruff_cache
