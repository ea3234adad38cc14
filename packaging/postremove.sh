#!/bin/sh
# postremove of the parley .deb: on purge, the data, the user and the group.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
	rm -rf /var/lib/parley
	if getent passwd parley >/dev/null; then
		deluser --system --quiet parley || true
	fi
	if getent group parley >/dev/null; then
		delgroup --system --quiet parley || true
	fi
fi
exit 0
