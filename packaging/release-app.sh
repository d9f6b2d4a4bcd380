#!/usr/bin/env bash
# Publishes a built app package to a mirror's self-update feed (`make release`):
# signs it for tauri-plugin-updater (minisign, with Tauri's own signer, the
# signature bound to the version) and imports it with `tooldelta-mirror import-app`.
#
#   packaging/release-app.sh DEB VERSION SECRET_KEY STORE [NOTES]
#
# SECRET_KEY is a key file from `tauri signer generate`; its password, if it
# has one, comes from TAURI_SIGNING_PRIVATE_KEY_PASSWORD (never a flag, so it
# stays out of `ps`). fixtures/app-update/TEST-ONLY-app-update.key is for tests
# only; docs/packages.md says how to make and keep a real one.
# TOOLDELTA_MIRROR_BIN picks the mirror binary (default: the release build).
set -euo pipefail

deb="$1" version="$2" key="$3" store="$4" notes="${5:-}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
tauri="$repo/packaging/tauri-cli/node_modules/.bin/tauri"
mirror="${TOOLDELTA_MIRROR_BIN:-$repo/target/release/tooldelta-mirror}"

for file in "$deb" "$key"; do
  [ -f "$file" ] || { echo "release-app: $file: no such file" >&2; exit 2; }
done

# `tauri signer sign` writes DEB.sig next to the package.
TAURI_SIGNING_PRIVATE_KEY_PASSWORD="${TAURI_SIGNING_PRIVATE_KEY_PASSWORD:-}" \
  "$tauri" signer sign --private-key-path "$key" --app-version "$version" "$deb" >/dev/null

# The feed is per platform as the updater names it: linux / x86_64, aarch64, …
"$mirror" import-app --store "$store" --target linux --arch "$(uname -m)" \
  --version "$version" --artifact "$deb" --signature "$deb.sig" --notes "$notes"
echo "release-app: $deb ($version) signed and imported into $store" >&2
