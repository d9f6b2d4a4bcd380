# make bench: whole-process ratios against the reference tools (bench/*.py),
# Criterion benchmarks for in-process parts, the scaling curves and their plot.
# Each step writes target/bench/<step>.{md,json}; bench-report gathers them into
# target/bench/report.md (`make bench-docs` also updates docs/performance.md).
#
# Sizes and repeats come from the environment (docs/performance.md):
#   BENCH_QUICK=1 make bench        a few minutes, small files
#   BENCH_RUNS, BENCH_HASH_MB, BENCH_MODEL_MB, BENCH_SCALE_MB=10,100,1024,4096, …

BENCH_TARGETS += bench-build bench-hashing bench-serving bench-connections bench-update bench-network bench-smallfiles bench-chunks bench-criterion bench-scaling bench-app bench-report

BENCH_PY := cd bench && python3

.PHONY: bench-build bench-hashing bench-serving bench-connections bench-update bench-network bench-smallfiles bench-chunks bench-criterion bench-scaling \
        bench-app bench-plot-deps bench-report bench-docs

bench-build: ## release binaries the benchmarks run (not the desktop app)
	$(CARGO) build --release -p tooldelta-cli -p tooldelta-mirror -p tooldelta-testkit

bench-hashing: bench-build ## publish vs openssl dgst; many files on 2 cores vs 1
	$(BENCH_PY) hashing.py

bench-serving: bench-build ## our mirror vs nginx: 1 GiB to curl, 64 ranged wrk clients
	$(BENCH_PY) serving.py

bench-connections: bench-build ## 2 000 concurrent ranged wrk clients, ours vs nginx, limits raised alike
	$(BENCH_PY) connections.py

bench-update: bench-build ## install vs curl+sync, small delta vs cp -a, verify, RSS, resume
	$(BENCH_PY) update.py

bench-network: bench-build ## per-connection-capped server: segments vs one stream vs aria2c -x8; --max-rate accuracy
	$(BENCH_PY) network.py

bench-smallfiles: bench-build ## 1k/20k/100k small files: install, one-file update, verify, import vs cp -a/sha256sum; RSS, fsyncs, requests
	$(BENCH_PY) smallfiles.py

bench-chunks: bench-build ## 1 GiB and 4 GiB GGUF: chat-template edit and one tensor, chunk deltas vs cp+sync, whole file, desync, electron-builder
	$(BENCH_PY) chunks.py

# Old results go first, so the report lists only this run's benchmarks.
bench-criterion: ## Criterion: hashing, canonical JSON, diff of a 100 000-file manifest
	rm -rf target/criterion
	$(CARGO) bench -p tooldelta-core --bench core

bench-scaling: bench-build bench-plot-deps ## time vs model size (10 MiB → 4 GiB) and the plot
	$(BENCH_PY) scaling.py
	$(BENCH_PY) plot.py

bench-app: bench-build ## the desktop app under Xvfb: window mapped, idle CPU (needs `make app` first)
	$(BENCH_PY) app.py

# matplotlib from PyPI draws the PNG; without it plot.py still writes an SVG.
bench-plot-deps:
	@python3 -c 'import matplotlib' 2>/dev/null || python3 -m pip install --quiet matplotlib \
	  || echo "bench: matplotlib not installable; the plot is written as SVG only" >&2

bench-report: ## gather every table into target/bench/report.md
	$(BENCH_PY) report.py

bench-docs: ## after `make bench`: copy the report and the plot into docs/
	$(BENCH_PY) report.py --docs
