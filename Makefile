# Qala — the commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo serve test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalls only when pyproject.toml changes; safe to run again and again.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Third-party NGSI-LD clients for the interoperability test, in their own virtualenv (their
# pinned dependencies conflict with Qala's): the "interop" dependency group of pyproject.toml.
INTEROP := .venv-interop
$(INTEROP)/.installed: pyproject.toml
	$(PYTHON) -m venv $(INTEROP)
	$(INTEROP)/bin/python -m pip install --quiet --upgrade pip
	$(INTEROP)/bin/python -m pip install --quiet --group interop
	touch $@

demo: install
	$(BIN)/qala demo

serve: install
	$(BIN)/qala serve

lint: install
	$(BIN)/ruff check src tests bench

test: install $(INTEROP)/.installed
	@bash tools/ensure-chromium.sh
	$(BIN)/ruff check src tests bench
	$(BIN)/python -m pytest -n auto --dist loadgroup

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(INTEROP) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
