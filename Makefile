# Two entry points (see README.md). Each creates .venv if needed and installs what it uses.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Torch threads: the CI machine has 2 cores. (No MPLBACKEND here: it would stop Jupyter from showing figures.)
export OMP_NUM_THREADS ?= 2

.PHONY: book check-book check-seeds test env lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip

env: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[book,test,log]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null

## Build the whole book: execute every chapter on its default parameters, render HTML to _build/html.
## Math is rendered at build time (KaTeX), the API pages are generated afresh from the docstrings (book/api/).
book: env
	$(BIN)/python tools/katex_offline.py book/_static/katex
	rm -rf book/api
	$(BIN)/jupyter-book build . --all --builder html
	@echo "Book written to _build/html/index.html"

## Open every built page in headless Chromium, offline: unrendered TeX, missing images, broken links and
## references, content cut at the page edge. Screenshots in _build/screenshots. Installs Debian's chromium if missing.
check-book: env
	$(BIN)/python tools/check_book.py _build/html --screenshots _build/screenshots

## Every chapter with a seeds parameter on seeds it was not written on (101-105), then the verdict page on those
## records, in a copy under _build/seeds (book/ untouched). SEEDS="7 8 9" picks others.
SEEDS ?= 101 102 103 104 105
check-seeds: env
	$(BIN)/python tools/check_seeds.py --seeds $(SEEDS)

## Run the full test suite: unit tests + every chapter notebook under nbval.
test: env
	$(BIN)/ruff check .
	$(BIN)/python -m pytest --nbval-lax tests book

clean:
	rm -rf _build runs book/api book/runs book/_claims
