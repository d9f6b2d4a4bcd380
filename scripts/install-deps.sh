#!/usr/bin/env bash
# Installs the system packages tooldelta's build and tests need, only when
# something is missing, so repeated runs cost a `dpkg -s` and nothing more.
# Extra Debian packages a target needs only for itself (mk/package.mk's
# lintian, for one) can be named as arguments.
set -euo pipefail

packages=(
  # Tauri 2 (see shared TAURI-NOTES.md)
  libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev
  libsoup-3.0-dev libjavascriptcoregtk-4.1-dev build-essential pkg-config libssl-dev
  libxdo-dev
  # GUI tests in a real window
  xvfb xauth webkit2gtk-driver
  # the app's OS notifications seen by a real notification server on a private session bus
  dunst dbus-daemon
  # the mirror's /fleet page in a real headless browser (tests/tests/fleet_page.rs)
  chromium chromium-driver
  # reference tools for tests and benchmarks
  openssl curl nginx-light wrk
  # network tests and benchmarks: a real forward proxy (http and CONNECT), the reference segmented downloader
  tinyproxy aria2
  # benchmarks (make bench): scripts, peak RSS of a child, the app's window (xwininfo)
  python3 time x11-utils
  # the mirror's service unit test (systemd-analyze verify); prlimit is util-linux
  systemd util-linux
  # pip for scripts/requirements-test.txt (gguf-py for the chunk-delta tests)
  python3-pip
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python packages of the tests, only when one is missing.
if ! python3 -c 'import gguf' >/dev/null 2>&1 || ! command -v gguf-new-metadata >/dev/null; then
  requirements="$(dirname "$0")/requirements-test.txt"
  echo "install-deps: pip install -r $requirements" >&2
  # Debian's Python refuses system-wide pip installs unless told otherwise.
  python3 -m pip install --quiet -r "$requirements" 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages -r "$requirements"
fi
