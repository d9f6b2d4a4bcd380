# Packages (docs/packages.md): `make package` builds, in release mode, the
# desktop app's .deb (Tauri's bundler) and the headless `tooldelta` .deb (CLI
# with the agent, mirror, systemd units, /etc/tooldelta), into target/packages/,
# and checks both with lintian. `make release` signs the app package for the
# self-updater and imports it into a mirror store. `make test-package` installs
# the packages on this machine and runs the self-update in a real window.
#
# Not in `make test`: two release builds of the app take many minutes on CI's
# 2 cores; CI runs `make test-package` once on its own (.ci/run).

PKG_OUT := target/packages
# The workspace version ([workspace.package] in Cargo.toml): every package's.
VERSION := $(shell sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"$$/\1/p' Cargo.toml)
ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
# The app's version; `make package-app APP_VERSION=…` builds another (the
# self-update test's N+1).
APP_VERSION ?= $(VERSION)
# Where package-app puts the app's .deb (the test's N+1 goes to a folder of its own).
APP_OUT ?= $(PKG_OUT)
APP_DEB = $(APP_OUT)/tooldelta-app_$(APP_VERSION)_$(ARCH).deb
HEADLESS_DEB = $(PKG_OUT)/tooldelta_$(VERSION)_$(ARCH).deb
TAURI_CLI := packaging/tauri-cli/node_modules/.bin/tauri
TAURI_CLI_INSTALLED := packaging/tauri-cli/node_modules/.package-lock.json

# make release: the signing key (tauri signer / minisign format) and its
# password, the mirror store to import into, and the release notes.
RELEASE_KEY ?=
RELEASE_STORE ?=
RELEASE_NOTES ?=
# The self-update test's N+1: the workspace version with its patch raised.
NEXT_VERSION := $(shell echo '$(VERSION)' | awk -F. '{print $$1"."$$2"."$$3+1}')
NEXT_OUT := $(PKG_OUT)/next

.PHONY: package-deps package package-app package-headless lint-packages release test-package

package-deps: app-deps ## lintian, and Tauri's CLI (prebuilt, from npm) for bundling and signing
	scripts/install-deps.sh lintian
	@if [ ! -f $(TAURI_CLI_INSTALLED) ] || [ packaging/tauri-cli/package-lock.json -nt $(TAURI_CLI_INSTALLED) ]; then \
	  echo "package-deps: npm ci in packaging/tauri-cli/" >&2; \
	  (cd packaging/tauri-cli && npm ci --no-audit --no-fund); fi

package: package-app package-headless ## release builds of both .debs into target/packages/, checked by lintian
	$(MAKE) --no-print-directory lint-packages

package-app: package-deps ## the desktop app's .deb (Tauri's bundler, release build); APP_VERSION=… for another version
	packaging/deb/build-app.sh $(APP_VERSION) $(APP_OUT)

package-headless: package-deps ## the headless .deb: tooldelta (+ agent), tooldelta-mirror, units, /etc/tooldelta
	$(CARGO) build --release -p tooldelta-cli -p tooldelta-mirror
	packaging/deb/build-headless.sh $(VERSION) target/release $(PKG_OUT)

lint-packages: ## lintian on the built packages: no errors allowed
	lintian --fail-on error --suppress-tags-from-file packaging/deb/lintian-overrides \
	  $(PKG_OUT)/tooldelta-app_$(VERSION)_$(ARCH).deb $(HEADLESS_DEB)

release: package-app ## sign the app's .deb for the self-updater (RELEASE_KEY) and import it into RELEASE_STORE
	@[ -n "$(RELEASE_KEY)" ] && [ -n "$(RELEASE_STORE)" ] || { \
	  echo "release: set RELEASE_KEY=secret key file (docs/packages.md) and RELEASE_STORE=mirror store" >&2; exit 2; }
	@# The same build as package-headless (same features: nothing recompiles).
	$(CARGO) build --release -p tooldelta-cli -p tooldelta-mirror
	packaging/release-app.sh $(APP_DEB) $(APP_VERSION) '$(RELEASE_KEY)' '$(RELEASE_STORE)' '$(RELEASE_NOTES)'

test-package: package ## install the packages here (root), check units and the app, self-update N → N+1 in a real window
	@# The updater installs a .deb with pkexec, else sudo: the test runs as root with sudo.
	scripts/install-deps.sh sudo
	$(MAKE) --no-print-directory package-app APP_VERSION=$(NEXT_VERSION) APP_OUT=$(NEXT_OUT)
	$(CARGO) build -p tooldelta-app --test package
	TOOLDELTA_PACKAGES=$(CURDIR)/$(PKG_OUT) TOOLDELTA_NEXT_APP_DEB=$(CURDIR)/$(NEXT_OUT)/tooldelta-app_$(NEXT_VERSION)_$(ARCH).deb \
	  $(CARGO) test -p tooldelta-app --test package -- --ignored --test-threads=1 --nocapture
