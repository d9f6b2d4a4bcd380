# Desktop app: src-tauri (binary `tooldelta-app`) + ui (Svelte 5, Vite).
# See docs/app.md. The app crate is a workspace member but not a default
# member: plain `cargo build` skips it, these targets build it.

APP_BIN := target/debug/tooldelta-app
# npm installs again only when the lock file changed since the last install.
# `npm ci`: exactly the locked versions, and the lock is never rewritten, so a
# fresh clone stays clean after `make test`. The lock lists every platform's
# optional packages (@rollup/rollup-*, @esbuild/*); regenerate it with
# `npm install` in ui/ after changing package.json, and commit it whole.
UI_INSTALLED := ui/node_modules/.package-lock.json

DEPS_TARGETS += app-deps
TEST_TARGETS += test-ui test-gui

.PHONY: app-deps app-ui app app-types test-ui test-app test-gui demo-app

app-deps: ## npm packages of the UI, tauri-driver for the GUI tests, ui/dist (only what is missing or stale)
	@if [ ! -f $(UI_INSTALLED) ] || [ ui/package-lock.json -nt $(UI_INSTALLED) ]; then \
	  echo "app-deps: npm ci in ui/" >&2; (cd ui && npm ci --no-audit --no-fund); fi
	@command -v tauri-driver >/dev/null 2>&1 || [ -x "$$HOME/.cargo/bin/tauri-driver" ] || \
	  { echo "app-deps: cargo install tauri-driver" >&2; $(CARGO) install tauri-driver --locked; }
	@# Any cargo build of the workspace embeds ui/dist: build it first when it is
	@# missing, is build.rs's placeholder, or is older than the UI sources.
	@if [ ! -f ui/dist/index.html ] || grep -q 'UI was not built' ui/dist/index.html || \
	  [ -n "$$(find ui/src ui/index.html ui/public ui/package-lock.json -newer ui/dist/index.html -print -quit)" ]; then \
	  echo "app-deps: building ui/dist" >&2; (cd ui && npm run --silent build); fi

app-ui: ## build the web UI into ui/dist (embedded into the app binary)
	cd ui && npm run build

app: app-ui ## build the desktop app (debug): target/debug/tooldelta-app
	$(CARGO) build -p tooldelta-app

app-types: ## regenerate ui/src/lib/bindings.ts from the Rust types (ts-rs)
	UPDATE_BINDINGS=1 $(CARGO) test -p tooldelta-app --lib bindings

test-ui: ## UI type check and unit tests (Vitest with the @tauri-apps/api mocks)
	cd ui && npm run check && npm test

test-app: app-ui ## Rust unit tests of the app crate (settings, watcher, bindings freshness, flags = the CLI's)
	$(CARGO) build -p tooldelta-cli --bins
	$(CARGO) test -p tooldelta-app --lib

test-gui: test-app app ## end-to-end in a real window: Xvfb + tauri-driver + real mirror; screenshots in target/gui-screenshots
	$(CARGO) build -p tooldelta-cli -p tooldelta-mirror --bins
	$(CARGO) test -p tooldelta-app --test gui -- --ignored --test-threads=1

demo-app: app ## open the app against TOOLDELTA_ROOT / TOOLDELTA_MIRROR / TOOLDELTA_TRUST when a display exists
	@if [ -n "$${DISPLAY:-}" ]; then \
	  echo "demo-app: opening $(APP_BIN) (close the window to go on)" >&2; $(APP_BIN); \
	else \
	  echo "demo-app: no DISPLAY; run '$(APP_BIN)' on a desktop, or 'Xvfb :99 & DISPLAY=:99 $(APP_BIN)'" >&2; fi
