#!/bin/sh
# preremove of the parley .deb: stop the server (data and user stay).
set -e
if [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then
	systemctl disable --now parley.service >/dev/null || true
fi
exit 0
