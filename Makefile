# Two commands a user needs: `make run` (self-play interview on the offline engine) and
# `make test`.  Both create .venv and install the project on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLAN ?= backend_engineer
CANDIDATE ?= strong

.PHONY: setup sandbox run test lint clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# The code sandbox needs bubblewrap (Debian package); install it when we can (root + apt).
sandbox:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "warning: bubblewrap (bwrap) is missing: code will not be executed. Install package 'bubblewrap'."; \
	  fi; }

setup: $(VENV)/.installed sandbox

run: setup
	$(BIN)/interview-sim simulate --plan $(PLAN) --candidate $(CANDIDATE) --out report.json

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests graphs
	$(BIN)/ruff format --check src graphs
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .langgraph_api
