#!/usr/bin/env bash
# Builds the desktop app's .deb with Tauri's bundler, in release mode:
#
#   packaging/deb/build-app.sh VERSION OUT_DIR
#
# TOOLDELTA_APP_UPDATE_PUBKEY_FILE (a `.key.pub` from `tauri signer generate`)
# builds that key in as the self-updater's (`plugins.updater.pubkey`); without
# it the app needs --app-update-pubkey / TOOLDELTA_APP_UPDATE_PUBKEY to update
# itself (docs/packages.md).
#
# Two steps so that `Depends:` is what the binary really links (dpkg-shlibdeps
# on the release build, WebKitGTK's runtime among them) rather than a list kept
# by hand: `tauri build --no-bundle`, then `tauri bundle --bundles deb`. The
# bundler also marks the binary as installed from a .deb, which is how
# tauri-plugin-updater knows to install updates with dpkg.
set -euo pipefail

version="$1" out_dir="$(mkdir -p "$2" && cd "$2" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tauri="$repo/packaging/tauri-cli/node_modules/.bin/tauri"
arch="$(dpkg --print-architecture)"

work="$repo/target/packages/work"
mkdir -p "$work" "$out_dir"
"$here/changelog.sh" tooldelta-app "$version" >"$work/changelog"

# The version and the key are compiled in (the running app reports its
# version); changing them rebuilds only the app crate.
build_config="$(python3 -c 'import json,sys
config = {"version": sys.argv[1]}
if sys.argv[2]:
    config["plugins"] = {"updater": {"pubkey": open(sys.argv[2]).read().strip()}}
print(json.dumps(config))' "$version" "${TOOLDELTA_APP_UPDATE_PUBKEY_FILE:-}")"
cd "$repo/src-tauri"
"$tauri" build --ci --no-bundle --config "$build_config"

bin="$repo/target/release/tooldelta-app"
# What dh_strip does: the release profile keeps line tables for backtraces in
# development; the package ships without them (strip rewrites the file, so
# cargo's own copy in deps/ keeps them).
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$bin"
depends="$("$here/shlibdeps.sh" "$bin")"
# The tray icon loads libayatana-appindicator3 with dlopen at run time, so
# dpkg-shlibdeps cannot see it; without it creating the tray aborts the app.
depends="$depends, libayatana-appindicator3-1"
# pkexec asks a desktop user for the admin password when the app installs its
# own update (tauri-plugin-updater runs `pkexec dpkg -i`, then sudo).
# Tauri writes `publisher` as the package's Maintainer.
config="$(python3 -c 'import json,sys; print(json.dumps({"version": sys.argv[1], "bundle": {
    "publisher": "tooldelta maintainers <maintainers@tooldelta.dev>", "linux": {"deb": {
    "depends": [d.strip() for d in sys.argv[2].split(",") if d.strip()],
    "recommends": ["pkexec"],
    "changelog": sys.argv[3]}}}}))' "$version" "$depends" "$work/changelog")"
"$tauri" bundle --ci --bundles deb --config "$config"

deb="$repo/target/release/bundle/deb/tooldelta-app_${version}_${arch}.deb"
cp "$deb" "$out_dir/"
echo "$out_dir/$(basename "$deb")"
