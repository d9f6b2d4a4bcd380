#!/usr/bin/env bash
# Builds the headless package `tooldelta`: the `tooldelta` CLI (its `agent`
# subcommand included) and `tooldelta-mirror`, every unit in packaging/systemd/,
# every file in packaging/etc/ as a conffile under /etc, and the docs.
#
#   packaging/deb/build-headless.sh VERSION BIN_DIR OUT_DIR
#
# BIN_DIR holds release builds of `tooldelta` and `tooldelta-mirror`. Units and
# /etc files are picked up by listing the folders, so a unit added there ships
# without touching this script. Nothing is enabled on install: a workstation
# enables the agent's timer, a site server the mirror (docs/packages.md).
set -euo pipefail

version="$1" bin_dir="$2" out_dir="$3"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
package=tooldelta
arch="$(dpkg --print-architecture)"
# The distribution's unit folder (/lib/systemd/system on bookworm, /usr/lib/… later).
unit_dir="$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || echo /lib/systemd/system)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
doc="$root/usr/share/doc/$package"
install -d "$root/usr/bin" "$root$unit_dir" "$doc" "$root/DEBIAN"

for bin in tooldelta tooldelta-mirror; do
  install -m 0755 "$bin_dir/$bin" "$root/usr/bin/$bin"
  # What dh_strip does: no symbol table or debug sections in the package.
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/$bin"
done

units=()
for unit in "$repo"/packaging/systemd/*; do
  [ -f "$unit" ] || continue
  install -m 0644 "$unit" "$root$unit_dir/"
  units+=("$(basename "$unit")")
done

conffiles=()
while IFS= read -r -d '' file; do
  rel="${file#"$repo/packaging/etc/"}"
  install -D -m 0644 "$file" "$root/etc/$rel"
  conffiles+=("/etc/$rel")
done < <(find "$repo/packaging/etc" -type f -print0 | sort -z)

install -m 0644 "$repo/packaging/copyright" "$doc/copyright"
"$here/changelog.sh" "$package" "$version" | gzip -9n >"$doc/changelog.gz"
# The units' Documentation= lines point here, so these stay uncompressed.
install -m 0644 "$repo"/docs/*.md "$doc/"

# System users named by the units' User= lines (the mirror's, for one).
users="$(sed -n 's/^User=\(.*\)$/\1/p' "$repo"/packaging/systemd/* 2>/dev/null | grep -vx root | sort -u | tr '\n' ' ' | sed 's/ *$//' || true)"

"$here/maintscripts.sh" "$root/DEBIAN" "$users" "${units[@]}"
printf '%s\n' "${conffiles[@]}" >"$root/DEBIAN/conffiles"

depends="$("$here/shlibdeps.sh" "$root/usr/bin/tooldelta" "$root/usr/bin/tooldelta-mirror")"
[ -z "$users" ] || depends="$depends, adduser"
cat >"$root/DEBIAN/control" <<CONTROL
Package: $package
Version: $version
Architecture: $arch
Maintainer: tooldelta maintainers <maintainers@tooldelta.dev>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: admin
Priority: optional
Description: verified, atomic updates of the AI tools on a workstation
 tooldelta installs and updates tools (binaries, models, environments) from
 signed manifests and a content-addressed mirror: only changed files are
 downloaded, every byte is verified, and a failed update never touches the
 active release.
 .
 This package holds the command-line tool (with the unattended agent,
 \`tooldelta agent\`), the mirror server \`tooldelta-mirror\` and their systemd
 units. No unit is enabled on installation.
CONTROL

(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
  xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$root"/DEBIAN/{control,conffiles,md5sums}

mkdir -p "$out_dir"
deb="$out_dir/${package}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
