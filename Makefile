# Two commands (README): `make demo` sets up and runs the post-renderer on the bundled
# example; `make test` runs lint, types and the whole test suite (what CI runs).
VENV ?= .venv
BIN := $(VENV)/bin
EXAMPLE := testdata/examples

.PHONY: demo test lint bench fuzz schemas catalogue clean

demo: $(VENV)/.installed
	$(BIN)/slinky explain --config $(EXAMPLE)/profiles.yaml $(EXAMPLE)/release.yaml

test: $(VENV)/.installed lint
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

schemas: $(VENV)/.installed
	$(BIN)/python tools/crd2schema.py

catalogue: $(VENV)/.installed
	$(BIN)/python tools/build_catalogue.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
