#!/bin/bash
# bench/compare.sh — run the same load scenarios against Parley, Prosody and
# ejabberd on this machine, one after another, and print one table.
#
# Each server runs on loopback ports with the same self-signed ECDSA P-256
# certificate (the kind Parley generates when it has none); the generator
# offers only the X25519 key exchange, so all three servers negotiate the
# same one (Go would pick X25519MLKEM768, which OpenSSL 3.0 lacks). Then
# SCRAM-SHA-1 with 4096 iterations (the one SCRAM variant all three store),
# rate limits and shapers off and its embedded storage (Parley: SQLite,
# Prosody: internal files, ejabberd: Mnesia). The server is pinned to CPU
# $SERVER_CPU and the generator (parley bench) to CPU $GEN_CPU.
#
# Environment knobs (defaults keep a run to roughly 10 minutes):
#   IDLE=3000      sessions of the login storm and the idle scenario
#   ACTIVE=1000    sessions of the chat, presence and MUC scenarios
#   DURATION=10s   length of each traffic phase and of the idle hold
#   ROSTER=10      roster size of the presence scenario
#   ROOM=10        occupants per MUC room
#   SERVERS="ejabberd prosody parley"   order matters: Parley's fixed-rate
#                  chat run uses ejabberd's saturation rate
#   OUT=/tmp/parley-compare             work folder (wiped)
#   PARLEY_BIN=path                     use this parley binary instead of
#                  building one from the tree
#
# Needs root (apt-get, setpriv). Prosody runs as user prosody and ejabberd
# as user ejabberd; their Debian services are disabled, never used.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
IDLE=${IDLE:-3000}
ACTIVE=${ACTIVE:-1000}
DURATION=${DURATION:-10s}
ROSTER=${ROSTER:-10}
ROOM=${ROOM:-10}
SERVERS=${SERVERS:-"ejabberd prosody parley"}
OUT=${OUT:-/tmp/parley-compare}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
PASSWORD=bench-password
MECH=SCRAM-SHA-1
CURVES=x25519
BIN=$OUT/parley
ACCOUNTS=$(( IDLE > ACTIVE ? IDLE : ACTIVE ))

log() { printf '\n### %s\n' "$*" >&2; }

install_servers() {
	if command -v prosody >/dev/null && command -v ejabberdctl >/dev/null; then
		return
	fi
	log "installing prosody and ejabberd from Debian"
	# Keep the packages' services from starting on installation.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prosody ejabberd lua-unbound >/dev/null
	rm -f /usr/sbin/policy-rc.d
}

disable_services() {
	for s in prosody ejabberd; do
		update-rc.d "$s" disable >/dev/null 2>&1 || true
		service "$s" stop >/dev/null 2>&1 || true
	done
}

make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost,DNS:conference.localhost \
		-keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
	cat "$OUT/cert.pem" "$OUT/key.pem" >"$OUT/both.pem"
	chmod 644 "$OUT"/*.pem # a throwaway test key, readable by the server users
}

# render TEMPLATE DIR PORT TLSPORT > file
render() {
	sed -e "s#@DIR@#$2#g" -e "s#@PORT@#$3#g" -e "s#@TLSPORT@#$4#g" "$ROOT/bench/configs/$1"
}


PORT=0
PID=0
start_parley() {
	local d=$OUT/parley-srv
	mkdir -p "$d"
	render parley.yaml.in "$d" 15222 15223 >"$d/parley.yaml"
	if [ ! -f "$d/accounts.done" ]; then
		log "parley: creating $ACCOUNTS accounts with 'parley user add'"
		for i in $(seq 0 $((ACCOUNTS - 1))); do
			echo "$PASSWORD" | "$BIN" user add --config "$d/parley.yaml" "user$i@localhost" >/dev/null
		done
		touch "$d/accounts.done"
	fi
	taskset -c "$SERVER_CPU" "$BIN" serve --config "$d/parley.yaml" 2>"$d/parley.log" &
	PID=$!
	PORT=15222
	wait_port $PORT
}

start_prosody() {
	local d=$OUT/prosody-srv
	mkdir -p "$d/data"
	render prosody.cfg.lua.in "$d" 25222 25223 >"$d/prosody.cfg.lua"
	chown -R prosody:prosody "$d"
	setpriv --reuid prosody --regid prosody --init-groups \
		taskset -c "$SERVER_CPU" prosody --config "$d/prosody.cfg.lua" -F >"$d/stdout.log" 2>&1 &
	PID=$!
	PORT=25222
	wait_port $PORT
}

start_ejabberd() {
	local d=$OUT/ejabberd-srv
	mkdir -p "$d/spool" "$d/logs" "$d/conf"
	cp /etc/ejabberd/inetrc "$d/conf/"
	render ejabberd.yml.in "$d" 35222 35223 >"$d/conf/ejabberd.yml"
	printf 'ERLANG_NODE=bench-ejabberd@localhost\nERL_MAX_PORTS=65536\nERL_PROCESSES=1000000\nPOLL=true\n' >"$d/conf/ejabberdctl.cfg"
	chown -R ejabberd:ejabberd "$d"
	setpriv --reuid ejabberd --regid ejabberd --init-groups env HOME=/var/lib/ejabberd \
		taskset -c "$SERVER_CPU" ejabberdctl --config-dir "$d/conf" --spool "$d/spool" --logs "$d/logs" \
		--node bench-ejabberd@localhost foreground >"$d/stdout.log" 2>&1 &
	PORT=35222
	wait_port $PORT
	PID=$(pgrep -f 'beam.smp.*bench-ejabberd@localhost' | head -1)
}

stop_server() {
	case $1 in
	ejabberd)
		setpriv --reuid ejabberd --regid ejabberd --init-groups env HOME=/var/lib/ejabberd \
			ejabberdctl --config-dir "$OUT/ejabberd-srv/conf" --node bench-ejabberd@localhost stop >/dev/null 2>&1 || kill "$PID"
		;;
	*) kill "$PID" ;;
	esac
	while kill -0 "$PID" 2>/dev/null; do sleep 0.2; done
}


# bench SERVER LABEL parley-bench-flags... : one JSON report line per
# scenario. A scenario that fails (a server that cannot complete its
# setup in time, say) is reported and left out of the table ("—"); the
# other scenarios and servers still run.
bench() {
	local server=$1 label=$2
	shift 2
	log "$server: $label"
	if ! taskset -c "$GEN_CPU" "$BIN" bench --address "127.0.0.1:$PORT" --domain localhost \
		--user 'user%d' --password "$PASSWORD" --mechanism $MECH --curves $CURVES --tls starttls --insecure \
		--key-file "$OUT/scram-keys-$server.json" --progress 2s --json "$@" |
		jq -c --arg s "$server" --arg l "$label" '. + {server: $s, label: $l}' | tee -a "$OUT/results.jsonl" >&2; then
		log "$server: $label FAILED (left out of the table)"
		echo "$server $label" >>"$OUT/failed.txt"
	fi
}

run_server() {
	local s=$1
	"start_$s"
	log "$s started, pid $PID"
	# A first pass logs every account in once, for every server alike: the
	# generator stores the SCRAM keys it derives (--key-file), so that the
	# measured runs spend no PBKDF2 on the generator's CPU (a storm of
	# fresh derivations cost it more per login than Parley spent serving
	# one), and each server has seen every account once.
	if [ "$s" != parley ]; then
		# In-band registration (XEP-0077) through the kernel-chosen
		# source 127.0.0.1, which the servers' registration limits trust.
		bench "$s" setup --create --scenario login --count "$ACCOUNTS" --sources "" --concurrency 8
	else
		bench "$s" setup --scenario login --count "$ACCOUNTS" --sources "" --concurrency 8
	fi
	settle "$PID"
	bench "$s" login --scenario login --count "$IDLE"
	# A fresh server process for the memory figure: memory the previous
	# runs left allocated would otherwise make the "before" reading
	# meaningless (the 2026-11-26 run showed negative growth).
	stop_server "$s"
	"start_$s"
	sleep 2
	bench "$s" idle --scenario idle --count "$IDLE" --pid "$PID" --duration "$DURATION" --settle 5s
	bench "$s" chat-max --scenario chat --count "$ACTIVE" --duration "$DURATION"
	if [ -z "${CHAT_RATE:-}" ]; then
		CHAT_RATE=$(jq -r 'select(.server=="ejabberd" and .label=="chat-max") | .msgs_per_sec' "$OUT/results.jsonl" | tail -1)
	fi
	if [ -n "$CHAT_RATE" ] && [ "$CHAT_RATE" != null ]; then
		bench "$s" chat-at-ejabberd-rate --scenario chat --count "$ACTIVE" --duration "$DURATION" --rate "$CHAT_RATE" --window 1000
	fi
	bench "$s" presence --scenario presence --count "$ACTIVE" --roster "$ROSTER" --duration "$DURATION" --window 2 --login-rate 2000
	bench "$s" muc --scenario muc --count "$ACTIVE" --room-size "$ROOM" --duration "$DURATION" --window 2
	stop_server "$s"
}

main() {
	[ "$(id -u)" = 0 ] || { echo "compare.sh: run as root (apt-get, setpriv)" >&2; exit 1; }
	rm -rf "$OUT"
	mkdir -p "$OUT"
	chmod 755 "$OUT"
	install_servers
	disable_services
	if [ -n "${PARLEY_BIN:-}" ]; then
		cp "$PARLEY_BIN" "$BIN"
	else
		log "building parley"
		(cd "$ROOT" && go build -o "$BIN" ./cmd/parley)
	fi
	make_cert
	: >"$OUT/results.jsonl"
	for s in $SERVERS; do
		run_server "$s"
	done
	if [ -s "$OUT/failed.txt" ]; then
		log "failed scenarios: $(tr '\n' ',' <"$OUT/failed.txt")"
	fi
	/usr/bin/python3 "$ROOT/bench/compare_table.py" "$OUT/results.jsonl" \
		--meta "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d), commit $(git -C "$ROOT" rev-parse --short HEAD)" \
		--meta "IDLE=$IDLE ACTIVE=$ACTIVE DURATION=$DURATION ROSTER=$ROSTER ROOM=$ROOM, $MECH over STARTTLS, ECDSA P-256 certificate, $CURVES key exchange, server on CPU $SERVER_CPU, generator on CPU $GEN_CPU"
}

main "$@"
