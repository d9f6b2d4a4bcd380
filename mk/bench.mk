# make bench: whole-process ratios against the reference tools (bench/*.py),
# and Criterion benchmarks for in-process parts.

BENCH_TARGETS += bench-build bench-hashing

.PHONY: bench-build bench-hashing

bench-build:
	$(CARGO) build --release --workspace --bins

bench-hashing: bench-build
	cd bench && python3 hashing.py
