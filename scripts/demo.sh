#!/usr/bin/env bash
# `make demo`: the main job end to end on an embedded default.
#
#   1. publish the three versions of fixtures/demo-tool (plus a generated
#      "model" file, so the delta is visible) with the TEST ONLY key;
#   2. import them into a local mirror store and serve it on 127.0.0.1;
#   3. install demo-tool 1.0.0, then update to the latest version, and print
#      the JSON report; verify the result;
#   4. open the desktop app on the same mirror and root when a display exists.
#
# Everything lives under target/demo/ and is recreated on every run.
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL_MIB=${DEMO_MODEL_MIB:-64}
work=target/demo
bin=target/debug
keys=fixtures/keys
trust=$keys/test-only.public.pem

say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

[ -n "${DEMO_NO_BUILD:-}" ] || cargo build --bins --quiet
rm -rf "$work" && mkdir -p "$work/trees" "$work/manifests"

say "publish demo-tool 1.0.0, 1.1.0, 2.0.0 (with a ${MODEL_MIB} MiB model shared by all three)"
head -c $((MODEL_MIB * 1024 * 1024)) /dev/zero | openssl enc -aes-128-ctr -nosalt -pass pass:tooldelta-demo 2>/dev/null > "$work/model.gguf"
for v in 1.0.0 1.1.0 2.0.0; do
  cp -a "fixtures/demo-tool/$v" "$work/trees/$v"
  ln "$work/model.gguf" "$work/trees/$v/models/base-Q4_K_M.gguf"
  "$bin/tooldelta" publish --tool-dir "$work/trees/$v" --tool-id demo-tool --version "$v" \
    --key "$keys/test-only.secret.pem" --out "$work/manifests/demo-tool-$v.json"
done
"$bin/tooldelta" inspect "$work/manifests/demo-tool-2.0.0.json" --trust "$trust"

say "import into a local mirror and serve it"
for v in 1.0.0 1.1.0 2.0.0; do
  "$bin/tooldelta-mirror" import --store "$work/store" --manifest "$work/manifests/demo-tool-$v.json" \
    --tool-dir "$work/trees/$v" --trust "$trust"
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mirror="http://127.0.0.1:$port"
"$bin/tooldelta-mirror" serve --store "$work/store" --listen "127.0.0.1:$port" 2> "$work/mirror.log" &
mirror_pid=$!
trap 'kill $mirror_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fsS "$mirror/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "$mirror/api/v1/tools" >&2; echo >&2

export TOOLDELTA_ROOT="$PWD/$work/root" TOOLDELTA_MIRROR="$mirror" TOOLDELTA_TRUST="$PWD/$trust"

say "install demo-tool 1.0.0"
"$bin/tooldelta" update demo-tool --version 1.0.0

say "update demo-tool to the latest version (the report)"
"$bin/tooldelta" update demo-tool --json

say "verify what is installed"
"$bin/tooldelta" verify demo-tool
"$bin/tooldelta" status

if [ -n "${DISPLAY:-}" ] && [ -z "${CI:-}" ]; then
  say "open the desktop app on the same mirror and root (close its window to finish)"
  make --no-print-directory demo-app || echo "the app could not start; see the message above" >&2
else
  say "no display: skipping the desktop app (set DISPLAY to open it)"
fi
