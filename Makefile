# tooldelta — the two commands of the README's quick start are `make demo` and
# `make test`. Both work on a bare machine: `deps` installs what is missing.
#
# Feature areas add their own targets in mk/*.mk and register them here:
#   DEPS_TARGETS += …   (installs, run before building)
#   TEST_TARGETS += …   (run by `make test`, after the Rust suite)
#   BENCH_TARGETS += …  (run by `make bench`)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

DEPS_TARGETS :=
TEST_TARGETS :=
BENCH_TARGETS :=

include $(sort $(wildcard mk/*.mk))

.PHONY: help deps build test test-rust demo bench fmt lint

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

deps: ## install system packages, npm packages and cargo tools that are missing
	scripts/install-deps.sh
	@$(if $(strip $(DEPS_TARGETS)),$(MAKE) --no-print-directory $(DEPS_TARGETS),true)

build: deps ## build every binary (debug)
	$(CARGO) build --bins

test: deps ## the whole suite: Rust unit + end-to-end tests, then every registered area
	$(MAKE) --no-print-directory test-rust
	@$(if $(strip $(TEST_TARGETS)),$(MAKE) --no-print-directory $(TEST_TARGETS),true)

test-rust: ## Rust tests of the default members (the app crate is built and tested by mk/app.mk)
	$(CARGO) build --bins
	$(CARGO) test --no-fail-fast

demo: deps ## publish the fixtures to a local mirror, install and update a demo tool, print the report
	scripts/demo.sh

bench: deps ## benchmarks against openssl, curl, nginx and cp; prints ratio tables
	@$(if $(strip $(BENCH_TARGETS)),$(MAKE) --no-print-directory $(BENCH_TARGETS),echo "no benchmarks registered")

fmt: ## format the code
	$(CARGO) fmt --all

lint: ## rustfmt check and clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
