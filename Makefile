# One entry point for every task. `make test` and `make demo` set everything up first, so each
# works alone on a fresh clone: Python from PyPI, anvil/forge/solc-js/OpenZeppelin from npm.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SOLC_VERSION := 0.8.37

# py-solc-x (inside brownie) finds the compiler here: the solc-js shim, never a download.
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
# The native anvil (not the Node wrapper) comes first on PATH; brownie launches `anvil`.
export PATH := $(CURDIR)/.tools/bin:$(BIN):$(PATH)

STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed
SHIM := .solcx/solc-v$(SOLC_VERSION)
ANVIL := .tools/bin/anvil
# The console serves its scripts and styles itself (air-gapped networks): copied from npm here.
VENDOR := disburse/console/static/vendor
VENDOR_FILES := $(VENDOR)/htmx.min.js $(VENDOR)/uPlot.iife.min.js $(VENDOR)/uPlot.min.css

.PHONY: help setup test demo console bench-console gas bench-audit bench-oracle bench-index lint slither clean

help:
	@echo "make demo   run the demo scenario on a local anvil chain"
	@echo "make test   run every test (contracts, invariants, gas caps)"
	@echo "make console  the demo, then its index and the overseer console until Ctrl-C"
	@echo "make gas    measure gas of the hot paths, write reports/gas.json"
	@echo "make bench-audit  audit throughput on 100,000+ events, reports/audit-bench.json"
	@echo "make bench-oracle  oracle nodes end to end, 1,000 milestones, reports/oracle-bench.json"
	@echo "make bench-index  the ledger index: ingest into SQLite and PostgreSQL, reports/index-bench.json"
	@echo "make bench-console  the console's pages at a million events, reports/console-bench.json"
	@echo "make lint   ruff, mypy (strict) and slither"
	@echo "make setup  install the toolchain (idempotent; test/demo run it)"

setup: $(STAMP_PY) $(STAMP_NPM) $(SHIM) $(ANVIL) $(VENDOR_FILES)

$(STAMP_PY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip check
	echo 'import disburse._toolchain as t; t.install()' > \
	  "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/disburse-toolchain.pth"
	touch $@

$(STAMP_NPM): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

$(SHIM): tools/solc-shim/solc.js $(STAMP_NPM)
	mkdir -p $(dir $@)
	ln -sfn ../tools/solc-shim/solc.js $@
	$@ --version | grep -q 'Version: $(SOLC_VERSION)+commit'

$(ANVIL): tools/link-native.js $(STAMP_NPM)
	node tools/link-native.js

$(VENDOR)/htmx.min.js: $(STAMP_NPM)
	mkdir -p $(VENDOR) && cp node_modules/htmx.org/dist/htmx.min.js $@
$(VENDOR)/uPlot.%: $(STAMP_NPM)
	mkdir -p $(VENDOR) && cp node_modules/uplot/dist/uPlot.$* $@

test: setup
	$(BIN)/python -m pytest tests $(PYTEST_ARGS)

# The demo's chain keeps its state in .demo/chain-state.json; brownie attaches to it on 8545.
demo: setup
	mkdir -p .demo
	$(BIN)/python -m disburse.chain.localchain --state .demo/chain-state.json --port 8545 --free-gas -- \
	  $(BIN)/python -m scripts.run_demo

# The demo, then its index kept current and the overseer console serving it until Ctrl-C.
console: setup
	mkdir -p .demo
	$(BIN)/python -m disburse.chain.localchain --state .demo/chain-state.json --port 8545 --free-gas -- \
	  $(BIN)/python -m scripts.run_console

# The benchmarks' and the gas table's chain is started with explicit parameters, never from the
# user's ~/.brownie (a fresh one gives a 12,000,000 block gas limit); brownie attaches on 8545.
BENCH_CHAIN := $(BIN)/python -m disburse.chain.localchain --port 8545 --gas-limit 30000000 --base-fee 0 --

gas: setup
	$(BENCH_CHAIN) $(BIN)/brownie run scripts/gas.py

bench-audit: setup
	$(BENCH_CHAIN) $(BIN)/brownie run scripts/bench_audit.py

bench-oracle: setup
	$(BENCH_CHAIN) $(BIN)/brownie run scripts/bench_oracle.py

bench-index: setup
	$(BENCH_CHAIN) $(BIN)/brownie run scripts/bench_index.py

# No chain: the console over a synthetic million-event index (scripts/bench_console.py).
bench-console: setup
	$(BIN)/python -m scripts.bench_console

lint: setup slither
	$(BIN)/ruff check disburse oracle scripts tests tools/slither
	$(BIN)/ruff format --check disburse oracle scripts tests tools/slither
	$(BIN)/mypy
	$(BIN)/mypy --strict tools/slither/check_findings.py

slither: setup
	bash tools/slither/run.sh

clean:
	rm -rf build out cache .solcx .tools $(VENV) .venv-slither node_modules
