#!/usr/bin/env bash
# Prints a one-entry Debian changelog for PACKAGE at VERSION, dated by the
# last commit (reproducible: the same tree gives the same bytes).
#
#   packaging/deb/changelog.sh PACKAGE VERSION
set -euo pipefail

package="$1" version="$2"
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$(dirname "$0")" log -1 --format=%ct 2>/dev/null || date +%s)}"
cat <<ENTRY
$package ($version) unstable; urgency=medium

  * Release $version, built from the tooldelta source tree (see its history
    for the changes).

 -- tooldelta maintainers <maintainers@tooldelta.dev>  $(LC_ALL=C date -u -R -d "@$epoch")
ENTRY
