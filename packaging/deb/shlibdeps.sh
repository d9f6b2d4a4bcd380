#!/usr/bin/env bash
# Prints the Debian packages that the shared libraries of the given ELF
# binaries come from, as a `Depends:` value ("libc6 (>= 2.34), libgcc-s1 (>= 4.2)").
# dpkg-shlibdeps is Debian's own answer; it wants a debian/control to read,
# so a minimal one is made in a scratch folder.
set -euo pipefail

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/debian"
printf 'Source: tooldelta\n\nPackage: tooldelta\nArchitecture: any\n' >"$scratch/debian/control"

args=()
for bin in "$@"; do args+=("-e$(realpath "$bin")"); done
line="$(cd "$scratch" && dpkg-shlibdeps -O "${args[@]}" 2>/dev/null)"
echo "${line#shlibs:Depends=}"
