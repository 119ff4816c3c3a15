# The README's two commands: `make demo` (main job) and `make test` (whole suite).
# Both set everything up on a fresh machine (a virtualenv in .venv).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/auditkit demo --dir auditkit-demo

test: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider --doctest-modules auditkit tests \
		--nbval --nbval-sanitize-with notebooks/nbval_sanitize.cfg --nbval-cell-timeout=300 notebooks

test-fast: $(STAMP)
	$(BIN)/pytest -q -x --doctest-modules auditkit tests -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check auditkit tests benchmarks
	$(BIN)/ruff format --check auditkit tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_store.py
	$(BIN)/python benchmarks/bench_ingest_formats.py
	$(BIN)/python benchmarks/bench_detect.py
	$(BIN)/python benchmarks/bench_widgets.py
	$(BIN)/python benchmarks/bench_report.py

clean:
	rm -rf $(VENV) auditkit-demo .pytest_cache
