# Set-up is part of every target: each installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ANVIL := .tools/anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

.PHONY: install anvil demo test test-all bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# anvil ships as a binary inside an npm package; see ledgerlearn/chain/anvil.py.
$(ANVIL):
	$(BIN)/ledgerlearn node install

anvil: $(STAMP) $(ANVIL)

demo: $(STAMP)
	$(BIN)/ledgerlearn demo

test: $(STAMP) $(ANVIL)
	$(BIN)/python -m pytest -n 2 -q

test-all: $(STAMP) $(ANVIL)
	$(BIN)/python -m pytest -n 2 -q -m ''

bench: $(STAMP) $(ANVIL)
	$(BIN)/ledgerlearn bench gas
	$(BIN)/ledgerlearn bench throughput

clean:
	rm -rf $(VENV) .tools build dist src/*.egg-info
