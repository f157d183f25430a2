PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP_PKG := $(VENV)/.installed-pkg
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test test-deps lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_PKG): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_PKG)

demo: $(STAMP_PKG)
	$(BIN)/python -m provider demo

lint: $(STAMP_DEV)
	$(BIN)/ruff check provider tests bench examples
	$(BIN)/ruff format --check provider tests bench examples
	$(BIN)/mypy --strict provider examples

# The suite runs with the fast extra installed (dev includes it): each test of the provider's own
# client runs on both transports. The second run is the install without the extra: httptools cannot
# be imported, the provider falls back to httpx's transport by itself, and the fast cases skip.
test: lint test-deps
	$(BIN)/python -m pytest -q
	PROVIDER_TEST_WITHOUT_FAST=1 $(BIN)/python -m pytest -q tests/unit/test_transport.py \
	  tests/integration/test_loopback.py tests/unit/test_public_api.py

# Programs the gateway tests drive: nginx (reverse proxy), tinyproxy (forward proxy) and openssl
# (a test certificate), from Debian. Installed only when missing, and only as root; without them
# those tests skip, saying why.
GATEWAY_PKGS := nginx tinyproxy-bin openssl
test-deps:
	@export PATH="$$PATH:/usr/sbin:/sbin"; \
	if command -v nginx >/dev/null && command -v tinyproxy >/dev/null && \
	   command -v openssl >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "note: apt-get install $(GATEWAY_PKGS) as root to run the gateway tests" >&2; exit 0; fi; \
	log=$$(mktemp); \
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	       --no-install-recommends $(GATEWAY_PKGS); } >"$$log" 2>&1; then \
	  tail -n 5 "$$log" >&2; echo "note: could not install $(GATEWAY_PKGS): gateway tests skip" >&2; \
	fi; rm -f "$$log"

bench: $(STAMP_DEV)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.load --streams 500

clean:
	rm -rf $(VENV)
