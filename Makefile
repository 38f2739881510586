# MedLedger — two commands on a fresh Debian/Ubuntu machine with a Rust toolchain:
#   make run    install what is missing, build, open the desktop app on a demo database
#   make test   install what is missing, run every test (Rust, front end, end-to-end)
# Everything comes from the package registries (Debian, crates.io, npm).

SHELL := /bin/bash
CARGO ?= cargo
NPM ?= npm
CARGO_BIN := $(HOME)/.cargo/bin
export PATH := $(CARGO_BIN):$(PATH)

# Debian packages: Tauri's build libraries, then what the end-to-end test drives.
BUILD_PACKAGES := build-essential pkg-config curl file libssl-dev libwebkit2gtk-4.1-dev \
	libayatana-appindicator3-dev librsvg2-dev libxdo-dev libudev-dev fonts-noto-cjk
TEST_PACKAGES := xvfb xauth webkit2gtk-driver poppler-utils
# Python for the barcode engine's differential test against biip (PyPI) and
# the printing read-back test with zxing-cpp (PyPI), in a venv under target/.
PY_PACKAGES := python3 python3-venv python3-pip
PYENV := target/pyenv
BIIP_VERSION := 5.2.0
ZXING_CPP_VERSION := 3.1.1
PYMODBUS_VERSION := 3.8.6

DEMO_DB := target/demo/demo.sqlite
APP := target/debug/medledger-app
CLI := target/debug/medledger

.PHONY: run test build deps test-deps ui-deps ui-build demo bench bench-barcode bench-printing udi-diff printing-readback devices-modbus py-deps e2e check-bindings clean-demo bench-stocktake bench-devices bench-sync

run: deps ui-build
	$(CARGO) build --bin medledger-app -p medledger-app
	$(CARGO) build -p cli
	$(MAKE) --no-print-directory demo
	MEDLEDGER_DB=$(DEMO_DB) $(APP)

test: deps test-deps ui-build
	cd ui && $(NPM) test
	$(CARGO) test --workspace
	$(MAKE) --no-print-directory udi-diff
	$(MAKE) --no-print-directory printing-readback
	$(MAKE) --no-print-directory devices-modbus
	$(MAKE) --no-print-directory check-bindings
	$(MAKE) --no-print-directory e2e

build: deps ui-build
	$(CARGO) build --workspace

# The end-to-end test drives the real app through tauri-driver + WebKitWebDriver
# on its own Xvfb display; it saves screenshots under artifacts/. Its cold-chain
# test polls a Modbus thermometer served by pymodbus (py-deps) on a pty.
e2e: test-deps ui-build py-deps
	MEDLEDGER_PYTHON=$(CURDIR)/$(PYENV)/bin/python timeout 900 $(CARGO) test --test e2e -- --ignored --nocapture

# The TypeScript types are generated from the Rust DTOs by `cargo test`;
# a clean clone must already hold exactly what the code generates.
check-bindings:
	@git diff --quiet -- ui/src/bindings || { echo "ui/src/bindings is stale: commit the regenerated files"; git diff --stat -- ui/src/bindings; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard ui/src/bindings)" || { echo "new generated bindings are not committed"; exit 1; }

bench:
	$(CARGO) run --release -p cli -- bench ledger

# 16 Modbus thermometers (pymodbus) on one paced line against the bus limit; serial scan → ledger latency.
bench-devices: py-deps
	MEDLEDGER_PYTHON=$(CURDIR)/$(PYENV)/bin/python $(CARGO) run --release -p cli -- bench devices

# Sync: 4 workstations × 50,000 offline movements converging over loopback HTTP, the Automerge
# baseline on the same movement sets, and a new workstation starting from a 1,000,000-movement server.
bench-sync:
	$(CARGO) run --release -p cli -- bench sync

# A stocktake of 10,000 keys with 50,000 durable scans, its variance table and posting.
bench-stocktake:
	$(CARGO) run --release -p cli -- bench stocktake

# Barcode reading: our throughput and latency, and biip's throughput on the same GS1 barcodes.
bench-barcode: py-deps
	MEDLEDGER_PYTHON=$(CURDIR)/$(PYENV)/bin/python $(CARGO) run --release -p cli -- bench barcode

# Labels, documents and jobs: 1,000 lot labels as one PDF and as ZPL, a 200-line A4 receipt.
bench-printing:
	$(CARGO) run --release -p cli -- bench printing

# The barcode engine against biip, an independent GS1 parser, on 12,000 generated element strings.
udi-diff: py-deps
	MEDLEDGER_PYTHON=$(CURDIR)/$(PYENV)/bin/python $(CARGO) test -p udi --release --test differential -- --ignored --nocapture

# What we print, read back by tools no one here wrote: zxing-cpp decodes the
# PNG and PDF labels' GS1 DataMatrix and GS1-128 (PDFs rasterised by poppler's
# pdftoppm), pdftotext reads the A4 documents' Chinese text.
printing-readback: py-deps
	@scripts/install-packages.sh poppler-utils
	MEDLEDGER_PYTHON=$(CURDIR)/$(PYENV)/bin/python $(CARGO) test -p printing --test readback -- --ignored --nocapture

# Modbus RTU thermometers served by pymodbus on pseudo-terminals, read by our bus, by the shared
# poller (crates/coldchain-poll) and by `medledger coldchain poll`, down to a quarantined fridge
# that a manager releases.
devices-modbus: py-deps
	MEDLEDGER_PYTHON=$(CURDIR)/$(PYENV)/bin/python $(CARGO) test -p devices --test modbus -- --ignored --nocapture
	MEDLEDGER_PYTHON=$(CURDIR)/$(PYENV)/bin/python $(CARGO) test -p coldchain-poll --test poll -- --ignored --nocapture
	MEDLEDGER_PYTHON=$(CURDIR)/$(PYENV)/bin/python $(CARGO) test -p cli --test cli -- --ignored --nocapture

# A venv with biip and zxing-cpp. Debian's python3 lacks venv/ensurepip until python3-venv is installed.
py-deps: $(PYENV)/.biip-$(BIIP_VERSION) $(PYENV)/.zxing-cpp-$(ZXING_CPP_VERSION) $(PYENV)/.pymodbus-$(PYMODBUS_VERSION)
$(PYENV)/.biip-$(BIIP_VERSION):
	@python3 -c 'import venv, ensurepip' 2>/dev/null || scripts/install-packages.sh $(PY_PACKAGES)
	@test -x $(PYENV)/bin/python || python3 -m venv $(PYENV)
	PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 $(PYENV)/bin/pip install --quiet biip==$(BIIP_VERSION)
	@touch $@
$(PYENV)/.zxing-cpp-$(ZXING_CPP_VERSION): $(PYENV)/.biip-$(BIIP_VERSION)
	PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 $(PYENV)/bin/pip install --quiet zxing-cpp==$(ZXING_CPP_VERSION)
	@touch $@
# pymodbus (with pyserial) answers as Modbus RTU thermometers in the device tests.
$(PYENV)/.pymodbus-$(PYMODBUS_VERSION): $(PYENV)/.biip-$(BIIP_VERSION)
	PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 $(PYENV)/bin/pip install --quiet "pymodbus[serial]==$(PYMODBUS_VERSION)"
	@touch $@

# A fresh demo database from fixtures/ (rebuilt when the fixtures change).
demo: $(DEMO_DB)
$(DEMO_DB): $(wildcard fixtures/demo/*.csv)
	@mkdir -p $(dir $@)
	rm -f $@ $@-wal $@-shm
	$(CLI) --db $@ init --site S01 --name "演示医院 Demo Hospital"
	$(CLI) --db $@ demo load fixtures/demo

clean-demo:
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm

ui-deps: ui/node_modules/.package-lock.json
ui/node_modules/.package-lock.json: ui/package.json ui/package-lock.json
	cd ui && $(NPM) ci --no-audit --no-fund
	@touch $@

# Rebuilt only when the front end's sources change: a fresh ui/dist makes
# Cargo recompile the app that embeds it. The generated bindings are left out:
# `cargo test` rewrites them every run, and they are types only, which the
# build erases (`make check-bindings` keeps them honest).
UI_SOURCES := $(shell find ui/src -type f -not -path 'ui/src/bindings/*' 2>/dev/null) \
	ui/index.html ui/vite.config.ts ui/tsconfig.json ui/package.json
ui-build: ui/dist/index.html
ui/dist/index.html: ui/node_modules/.package-lock.json $(UI_SOURCES)
	cd ui && $(NPM) run build
	@touch $@

# System packages, installed only when missing: as root directly, else with sudo.
deps:
	@scripts/install-packages.sh $(BUILD_PACKAGES)
	@scripts/check-node.sh

test-deps: deps
	@scripts/install-packages.sh $(TEST_PACKAGES)
	@command -v tauri-driver >/dev/null || $(CARGO) install tauri-driver --locked
