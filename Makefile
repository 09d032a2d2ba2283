# Two commands a user needs: `make run` (self-play interview on the offline engine) and
# `make test`.  Both create .venv and install the project on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PLAN ?= backend_engineer
CANDIDATE ?= strong

.PHONY: setup sandbox browser deploytools run simulate test lint clean

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# System packages: bubblewrap (the code sandbox) and, for the tests, Debian's chromium (the
# web client's browser test).  Installed when we can (root + apt), otherwise a warning.
sandbox:
	@command -v bwrap >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "warning: bubblewrap (bwrap) is missing: code will not be executed. Install package 'bubblewrap'."; \
	  fi; }

browser:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "warning: /usr/bin/chromium is missing: the browser test will be skipped. Install package 'chromium'."; \
	  fi; }

# nginx, openssl and logrotate: tests/test_deploy.py runs the shipped deployment files with them.
deploytools:
	@{ test -x /usr/sbin/nginx || command -v nginx; } >/dev/null && command -v openssl >/dev/null \
	  && command -v logrotate >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && { apt-get install -y -qq nginx-light openssl logrotate >/dev/null || \
	      apt-get install -y -qq nginx openssl logrotate >/dev/null; }; \
	  else \
	    echo "warning: nginx, openssl or logrotate is missing: tests/test_deploy.py skips what needs them. Install packages 'nginx-light openssl logrotate'."; \
	  fi; }

setup: $(VENV)/.installed sandbox

# The main job: the interview service with its web client, on the offline engine.
run: setup
	@echo "Open http://127.0.0.1:$(PORT)/ in a browser (dev mode: sign in with any user name)."
	INTERVIEW_AUTH=dev $(BIN)/uvicorn server:app --host 127.0.0.1 --port $(PORT)

# A whole self-play interview in the terminal.
simulate: setup
	$(BIN)/interview-sim simulate --plan $(PLAN) --candidate $(CANDIDATE) --out report.json

test: setup browser deploytools
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests graphs
	$(BIN)/ruff format --check src graphs
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .langgraph_api
