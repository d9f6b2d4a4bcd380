#!/usr/bin/env bash
# Writes the maintainer scripts of the headless package into DEBIAN_DIR:
# system users for the units' User= lines, and the systemd bookkeeping that
# dh_installsystemd generates for units installed but not enabled (state kept
# for purge, daemon reload, restart of running units on upgrade, stop on removal).
#
#   packaging/deb/maintscripts.sh DEBIAN_DIR "USER..." UNIT...
set -euo pipefail

dir="$1" users="$2"
shift 2
units="$*"

cat >"$dir/postinst" <<SCRIPT
#!/bin/sh
set -e
if [ "\$1" = "configure" ]; then
	for user in $users; do
		if ! getent passwd "\$user" >/dev/null; then
			adduser --system --group --quiet --no-create-home \\
				--home "/var/lib/\$user" --shell /usr/sbin/nologin "\$user"
		fi
	done
fi
if [ "\$1" = "configure" ] || [ "\$1" = "abort-upgrade" ] || [ "\$1" = "abort-deconfigure" ] || [ "\$1" = "abort-remove" ]; then
	for unit in $units; do
		deb-systemd-helper unmask "\$unit" >/dev/null || true
		deb-systemd-helper update-state "\$unit" >/dev/null || true
	done
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "\$2" ]; then
			deb-systemd-invoke try-restart $units >/dev/null || true
		fi
	fi
fi
SCRIPT

cat >"$dir/prerm" <<SCRIPT
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "\$1" = remove ]; then
	deb-systemd-invoke stop $units >/dev/null || true
fi
SCRIPT

cat >"$dir/postrm" <<SCRIPT
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "\$1" = "remove" ] && [ -x /usr/bin/deb-systemd-helper ]; then
	for unit in $units; do
		deb-systemd-helper mask "\$unit" >/dev/null || true
	done
fi
if [ "\$1" = "purge" ] && [ -x /usr/bin/deb-systemd-helper ]; then
	for unit in $units; do
		deb-systemd-helper purge "\$unit" >/dev/null || true
		deb-systemd-helper unmask "\$unit" >/dev/null || true
	done
fi
SCRIPT
chmod 0755 "$dir/postinst" "$dir/prerm" "$dir/postrm"
