# Fault and attack matrix (issue 6; docs/threat-model.md maps each threat to
# its defence and the test that proves it).
#
# Plain `cargo test` (make test-rust) already runs the e2e parts:
#   tests/tests/crash_kill9.rs          kill -9 at random moments (50 iterations)
#   tests/tests/attack_*.rs             hostile manifests, content, paths, symlinks
#   tests/tests/fault_broken_server.rs  Range/416/Content-Range/ETag/5xx/down
#   tests/tests/fault_disk.rs           free-space check, a full tmpfs
#   tests/tests/concurrency_*.rs        two updaters; a reader during 1000 activations
#   tests/tests/mirror_abuse.rs         traversal corpus, random Range, 200 clients
#   tests/tests/attack_fuzz_smoke.rs    the fuzz properties on a seeded mutator
# What needs more than plain `cargo test` is registered here:
#   test-failpoints  the engine with its fail points compiled in (own feature
#                    set, so only tooldelta-core is built a second time)
#
#   make soak        500 kill -9 iterations (SOAK_ITERATIONS, SOAK_WORKERS)
#   make fuzz        libFuzzer (cargo-fuzz) on each target for FUZZ_SECONDS
#   make fault-report  the figures of the last runs (target/debug/fault-matrix)

TEST_TARGETS += test-failpoints

SOAK_ITERATIONS ?= 500
SOAK_WORKERS ?= 4
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := manifest_parse path_rules content_range range_header
# cargo-fuzz passes nightly-only flags (sanitizer coverage); RUSTC_BOOTSTRAP
# lets the stable toolchain accept them. The fuzz crate is its own workspace.
FUZZ_ENV := RUSTC_BOOTSTRAP=1

.PHONY: test-failpoints soak fuzz fuzz-deps fault-report

test-failpoints: ## fail points at every write/fsync/rename/delete of the update path
	$(CARGO) test -p tooldelta-core --features failpoints --test fault_failpoints

soak: ## 500 kill -9 iterations of a real update (SOAK_ITERATIONS, SOAK_WORKERS)
	$(CARGO) build --bins
	TOOLDELTA_KILL_ITERATIONS=$(SOAK_ITERATIONS) TOOLDELTA_KILL_WORKERS=$(SOAK_WORKERS) \
	  $(CARGO) test -p tooldelta-e2e --test crash_kill9 -- --nocapture

fuzz-deps:
	@command -v cargo-fuzz >/dev/null 2>&1 || [ -x "$$HOME/.cargo/bin/cargo-fuzz" ] || \
	  { echo "fuzz-deps: cargo install cargo-fuzz" >&2; $(CARGO) install cargo-fuzz --locked; }

fuzz: fuzz-deps ## libFuzzer on every target for FUZZ_SECONDS each (seeds in fuzz/seeds)
	@mkdir -p target/fault-matrix
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t; seeds=seeds/$$t; \
	  if [ $$t = manifest_parse ]; then seeds="$$seeds ../fixtures/hostile"; fi; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s" >&2; \
	  (cd fuzz && $(FUZZ_ENV) $(CARGO) fuzz run -O $$t corpus/$$t $$seeds \
	     -- -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1) \
	     2>&1 | tee target/fault-matrix/fuzz-$$t.log | grep -E '^(Done|stat::number_of_executed_units|==|SUMMARY)'; \
	done

fault-report: ## the figures of the last fault-matrix runs
	@cat target/debug/fault-matrix/*.json 2>/dev/null | head -c 20000; echo
	@grep -h 'number_of_executed_units' target/fault-matrix/fuzz-*.log 2>/dev/null || true
