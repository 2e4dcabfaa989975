# The two front-door commands: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test lint demo up down clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "nanomri needs Python 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest -q -ra

demo: install
	$(BIN)/nanomri demo

up: install
	$(BIN)/nanomri up

down: install
	$(BIN)/nanomri down

clean:
	rm -rf $(VENV) var results *.egg-info
