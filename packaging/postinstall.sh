#!/bin/sh
# postinstall of the parley .deb: the system user, its folders, the unit.
set -e

if ! getent group parley >/dev/null; then
	addgroup --system --quiet parley
fi
if ! getent passwd parley >/dev/null; then
	adduser --system --quiet --ingroup parley --home /var/lib/parley \
		--no-create-home --shell /usr/sbin/nologin \
		--gecos "Parley XMPP server" parley
fi

install -d -o parley -g parley -m 0750 /var/lib/parley
# The configuration may name certificate keys: readable by the server only.
chown root:parley /etc/parley /etc/parley/parley.yaml
chmod 0750 /etc/parley
chmod 0640 /etc/parley/parley.yaml

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
	if [ "$1" = "configure" ] && [ -z "$2" ]; then
		# First installation: enable and start.
		systemctl enable --now parley.service >/dev/null || true
	else
		# Upgrade: restart if it runs.
		systemctl try-restart parley.service >/dev/null || true
	fi
elif command -v systemctl >/dev/null; then
	# No running systemd (a container, a chroot): enable for the next boot.
	systemctl enable parley.service >/dev/null 2>&1 || true
fi
exit 0
