#!/bin/bash
# bench/compare.sh — run the same load scenarios against Parley, Prosody and
# ejabberd on this machine, one after another, and print one table.
#
# Each server runs on loopback ports with the same self-signed ECDSA P-256
# certificate (the kind Parley generates when it has none; CERT=rsa: an
# RSA-2048 one, the kind many deployments still serve); the generator
# offers only the X25519 key exchange, so all three servers negotiate the
# same one (Go would pick X25519MLKEM768, which OpenSSL 3.0 lacks). Then
# SCRAM-SHA-1 with 4096 iterations (the one SCRAM variant all three store),
# rate limits and shapers off and its embedded storage (Parley: SQLite,
# Prosody: internal files, ejabberd: Mnesia). The server is pinned to CPU
# $SERVER_CPU and the generator (parley bench) to CPU $GEN_CPU.
#
# Environment knobs (with the defaults the base part takes roughly 10
# minutes for the three servers, the muc part about as long, the s2s part
# about 5):
#   IDLE=3000      sessions of the login storm and the idle scenario (which
#                  ends with its two storms: every session disconnecting
#                  at once, then every account logging in again at once,
#                  the server's RSS read before, at the peak and after
#                  each; one process may hold at most 20,000 open files
#                  here, which caps IDLE for the generator and the server)
#   ACTIVE=1000    sessions of the chat, presence and MUC scenarios
#   DURATION=10s   length of each traffic phase and of the idle hold
#   ROSTER=10      roster size of the presence scenario
#   ROOM=10        occupants per MUC room
#   SERVERS="ejabberd prosody parley"   order matters: Parley's fixed-rate
#                  chat (and s2s) run uses ejabberd's saturation rate
#   CERT=ecdsa     the certificate of all three servers: ecdsa (P-256) or
#                  rsa (RSA-2048)
#   STORM=$IDLE    clients of the storm part
#   SCENARIOS="base muc s2s"            which parts run, in this order, per
#                  server: login = the login storm alone (a minute a
#                  server; with CERT=rsa, the RSA row); storm = the
#                  reconnect storm: $STORM clients log in once keeping
#                  their TLS session tickets (and, on Parley, FAST
#                  tokens), then all reconnect at once, first to the same
#                  server process (label storm), then again after the
#                  server restarted (label storm-restart; parley bench
#                  --restart-cmd runs "compare.sh restart-server");
#                  base = login storm, idle, chat, presence and MUC
#                  at $ROOM (about 3 minutes a server); idle = the idle
#                  scenario and its storms alone, on a fresh process (not
#                  in the default list: base has it); muc = MUC at each
#                  of $MUC_SIZES occupants a room, with and without
#                  archiving; s2s = a federation pair of the server
#                  (SCENARIOS=s2s runs that part alone, a few minutes);
#                  links = memory per s2s link (see below; not in the
#                  default list); web = XMPP over WebSocket (wss) against
#                  TCP on one server process: login storms, idle memory
#                  and chat over both (not in the default list; about 3
#                  minutes a server); bosh = the same with XMPP over
#                  BOSH (https; Parley's and Prosody's /http-bind,
#                  ejabberd's mod_bosh) in place of WebSocket (not in
#                  the default list). With both web and bosh, the table's
#                  TCP rows are the later part's.
#                  chat = 1:1 chat alone, at saturation and at
#                  ejabberd's saturation rate, for each setting of
#                  $CHAT_MAM, a fresh server process each (not in the
#                  default list; about 2 minutes a server and setting).
#   CHAT_MAM="off on"         message archive settings of the chat part:
#                  on = every 1:1 message archived (MAM=on in render:
#                  Parley's mam module and ejabberd's mod_mam with
#                  default always, Prosody's mod_mam with
#                  default_archive_policy = true, each on its embedded
#                  storage); labels chat-max-mam and
#                  chat-at-ejabberd-rate-mam, the fixed rate being
#                  ejabberd's chat-max-mam (MAM_CHAT_RATE sets it); the
#                  archived runs then read back the archives of
#                  $VERIFY_PAIRS chat pairs with MAM and check that every
#                  delivered message is in its recipient's and its
#                  sender's archive once
#   VERIFY_PAIRS=8            chat pairs whose archives are checked
#   MAM_DRAIN=20s             how long the archived chat runs wait for
#                  deliveries after the senders stop (the others: 5s)
#   PARLEY_PPROF=host:port    serve Parley's net/http/pprof there
#                  (parley serve --pprof) and, in the chat part, save a
#                  CPU profile of each saturation run and a heap profile
#                  after it: $OUT/parley-LABEL.cpu.pprof and
#                  $OUT/parley-LABEL.heap.pprof (default: off)
#   MUC_SIZES="10 100 1000"   room sizes of the muc part
#   MUC_ARCHIVE="off on"      archiving settings of the muc part: off =
#                  temporary rooms, on = persistent rooms with archiving,
#                  the server's archive module loaded
#   MUC_COUNT=$ACTIVE         sessions of the muc part (a multiple of
#                  every room size)
#   MUC_WINDOW=2              messages in flight per sender in the muc part
#   MUC_RATE=                 messages/s over all senders in the muc part
#                  (empty: saturation within MUC_WINDOW)
#   MUC_JOIN_TIMEOUT=10m      how long each joining pass of the muc part
#                  may take (Prosody fills rooms of 1,000 in minutes)
#   S2S_COUNT=$ACTIVE         sessions of the s2s part, half on each server
#   S2S_RATE=rate             the s2s part's fixed-rate run (default:
#                  ejabberd's saturation rate over s2s, when measured)
#   LINKS=300      remote domains of the links part
#   WS_CHAT_RATE=rate   the web part's fixed-rate WebSocket chat run
#                  (default: ejabberd's saturation rate over WebSocket)
#   BOSH_CHAT_RATE=rate the bosh part's fixed-rate BOSH chat run
#                  (default: ejabberd's saturation rate over BOSH)
#   OUT=/tmp/parley-compare             work folder (wiped)
#   PARLEY_BIN=path                     use this parley binary instead of
#                  building one from the tree
#   PARLEY_TAGS=tags                    build tags of the binary built from
#                  the tree (when PARLEY_BIN is unset); PARLEY_TAGS=openssl
#                  builds with cgo the one whose RSA certificate keys sign
#                  through OpenSSL's libcrypto (server/certs/opensslkey,
#                  docs/install.md), for CERT=rsa runs
#
# The s2s part runs two servers of one kind, for domains $S2S_A on
# 127.0.0.2 and $S2S_B on 127.0.0.3 (s2s on port 5269 of each, both
# servers on CPU $SERVER_CPU), with Server Dialback over STARTTLS for all
# three kinds; the two names are added to /etc/hosts for the run (Prosody
# and ejabberd find their peer through DNS) and removed at the end.
#
# The links part measures memory per s2s link: side a serves $S2S_A
# alone, side b (same software, same addresses) the $LINKS domains
# d0.$S2S_B … (Parley: its domains list, Prosody: a VirtualHost each,
# ejabberd: its hosts list); those names go to /etc/hosts for the run
# (Parley's side a gets a static route for each). One session on side
# a pings every remote domain (parley bench --scenario s2s-links), so
# that side a holds an outgoing link to each and each one's link back;
# the report gives side a's RSS growth per remote domain, and compare.sh
# adds side a's established s2s connections each way and open file
# descriptors, counted once the links are up (ss, /proc).
#
# Needs root (apt-get, setpriv, /etc/hosts). Prosody runs as user prosody
# and ejabberd as user ejabberd; their Debian services are disabled, never
# used.
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
SCENARIOS=${SCENARIOS:-"base muc s2s"}
CHAT_MAM=${CHAT_MAM:-"off on"}
VERIFY_PAIRS=${VERIFY_PAIRS:-8}
MAM_DRAIN=${MAM_DRAIN:-20s}
MUC_SIZES=${MUC_SIZES:-"10 100 1000"}
MUC_ARCHIVE=${MUC_ARCHIVE:-"off on"}
MUC_COUNT=${MUC_COUNT:-$ACTIVE}
MUC_WINDOW=${MUC_WINDOW:-2}
MUC_RATE=${MUC_RATE:-}
MUC_JOIN_TIMEOUT=${MUC_JOIN_TIMEOUT:-10m}
S2S_COUNT=${S2S_COUNT:-$ACTIVE}
LINKS=${LINKS:-300}
CERT=${CERT:-ecdsa}
STORM=${STORM:-$IDLE}
S2S_A=s2s-a.test
S2S_B=s2s-b.test
OUT=${OUT:-/tmp/parley-compare}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
PASSWORD=bench-password
MECH=SCRAM-SHA-1
CURVES=x25519
BIN=$OUT/parley
ACCOUNTS=$(( IDLE > ACTIVE ? IDLE : ACTIVE ))
ACCOUNTS=$(( ACCOUNTS > MUC_COUNT ? ACCOUNTS : MUC_COUNT ))
ACCOUNTS=$(( ACCOUNTS > STORM ? ACCOUNTS : STORM ))
# The domain and c2s port the generator logs in to (bench below).
DOMAIN=localhost

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
	local key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
	if [ "$CERT" = rsa ]; then
		key=(-newkey rsa:2048)
	fi
	openssl req -x509 "${key[@]}" -nodes -days 30 -subj /CN=localhost \
		-addext "subjectAltName=DNS:localhost,DNS:conference.localhost,DNS:$S2S_A,DNS:$S2S_B,DNS:*.$S2S_B" \
		-keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
	cat "$OUT/cert.pem" "$OUT/key.pem" >"$OUT/both.pem"
	chmod 644 "$OUT"/*.pem # a throwaway test key, readable by the server users
}

# render TEMPLATE DIR PORT TLSPORT > file. With ARCHIVE=on, Prosody's
# MUC component loads mod_muc_mam and ejabberd loads mod_mam. With
# WEB=on the lines marked @WEB@ are in (XMPP over WebSocket and BOSH on
# port PORT+58, see web_url and bosh_url), else out. With MAM=on every
# server archives every 1:1 message (Parley's mam module and ejabberd's
# mod_mam with default always, Prosody's mod_mam with
# default_archive_policy = true): the lines marked @MAM_ON@ are in, those
# marked @MAM_OFF@ out, and Prosody's modules_enabled gains "mam";
# ejabberd's mod_mam then also serves ARCHIVE=on.
render() {
	local archive=() web=(-e '/^#@WEB@/d' -e '/^--@WEB@/d') mam=(-e '/^#@MAM_ON@/d' -e '/^--@MAM_ON@/d' -e 's/^#@MAM_OFF@//')
	if [ "${ARCHIVE:-off}" = on ]; then
		archive=(-e 's#-- @MUC_ARCHIVE@#modules_enabled = { "muc_mam" }#')
		[ "${MAM:-off}" = on ] || archive+=(-e 's/# @MUC_ARCHIVE@/mod_mam: {}/')
	fi
	if [ "${WEB:-off}" = on ]; then
		web=(-e 's/^#@WEB@//' -e 's/^--@WEB@//')
	fi
	if [ "${MAM:-off}" = on ]; then
		mam=(-e 's/^#@MAM_ON@//' -e 's/^--@MAM_ON@//' -e '/^#@MAM_OFF@/d' -e '/^modules_enabled = /s/ }$/, "mam" }/')
	fi
	sed -e "s#@DIR@#$2#g" -e "s#@PORT@#$3#g" -e "s#@TLSPORT@#$4#g" -e "s#@WSPORT@#$(($3 + 58))#g" "${web[@]}" "${archive[@]}" "${mam[@]}" "$ROOT/bench/configs/$1"
}

# web_url: the WebSocket endpoint of the server on c2s port $PORT (WEB=on).
web_url() {
	echo "wss://127.0.0.1:$((PORT + 58))/xmpp-websocket"
}

# bosh_url: the BOSH endpoint of the server on c2s port $PORT (WEB=on).
bosh_url() {
	echo "https://127.0.0.1:$((PORT + 58))/http-bind"
}

# render_s2s TEMPLATE DIR PORT SIDE > file: one server of a federation
# pair, SIDE a ($S2S_A on 127.0.0.2) or b ($S2S_B on 127.0.0.3).
render_s2s() {
	local domain=$S2S_A addr=127.0.0.2 peer=$S2S_B peeraddr=127.0.0.3
	if [ "$4" = b ]; then
		domain=$S2S_B addr=127.0.0.3 peer=$S2S_A peeraddr=127.0.0.2
	fi
	sed -e "s#@DIR@#$2#g" -e "s#@PORT@#$3#g" -e "s#@DOMAIN@#$domain#g" -e "s#@ADDR@#$addr#g" \
		-e "s#@PEER@#$peer#g" -e "s#@PEERADDR@#$peeraddr#g" "$ROOT/bench/configs/$1"
}

# add_hosts and remove_hosts put the s2s pair's names in /etc/hosts and
# take them out again (rewriting the file in place: it may be a mount).
# The lines carry no comment: not every resolver's hosts parser takes one.
add_hosts() {
	remove_hosts
	printf '127.0.0.2 %s\n127.0.0.3 %s\n' "$S2S_A" "$S2S_B" >>/etc/hosts
}

remove_hosts() {
	local kept
	kept=$(grep -vxF -e "127.0.0.2 $S2S_A" -e "127.0.0.3 $S2S_B" /etc/hosts || true)
	printf '%s\n' "$kept" >/etc/hosts
}

# parley_accounts BIN_CONFIG DOMAIN COUNT: create user0… with
# 'parley user add' once per data folder.
parley_accounts() {
	local d
	d=$(dirname "$1")
	if [ ! -f "$d/accounts.done" ]; then
		log "parley: creating $3 accounts on $2 with 'parley user add'"
		for i in $(seq 0 $(($3 - 1))); do
			echo "$PASSWORD" | "$BIN" user add --config "$1" "user$i@$2" >/dev/null
		done
		touch "$d/accounts.done"
	fi
}


PORT=0
PID=0
start_parley() {
	local d=$OUT/parley-srv
	mkdir -p "$d"
	render parley.yaml.in "$d" 15222 15223 >"$d/parley.yaml"
	parley_accounts "$d/parley.yaml" localhost "$ACCOUNTS"
	local pprof=()
	[ -z "${PARLEY_PPROF:-}" ] || pprof=(--pprof "$PARLEY_PPROF")
	taskset -c "$SERVER_CPU" "$BIN" serve --config "$d/parley.yaml" "${pprof[@]}" 2>"$d/parley.log" &
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
	PORT=35222
	PID=$(run_ejabberd "$d" bench-ejabberd@localhost $PORT)
}

# run_ejabberd DIR NODE PORT: start an ejabberd node on the configuration
# in DIR/conf, wait for PORT and print its process ID.
run_ejabberd() {
	printf 'ERLANG_NODE=%s\nERL_MAX_PORTS=65536\nERL_PROCESSES=1000000\nPOLL=true\n' "$2" >"$1/conf/ejabberdctl.cfg"
	chown -R ejabberd:ejabberd "$1"
	setpriv --reuid ejabberd --regid ejabberd --init-groups env HOME=/var/lib/ejabberd \
		taskset -c "$SERVER_CPU" ejabberdctl --config-dir "$1/conf" --spool "$1/spool" --logs "$1/logs" \
		--node "$2" foreground >"$1/stdout.log" 2>&1 &
	wait_port "$3"
	pgrep -f "beam.smp.*$2" | head -1
}

# stop_ejabberd DIR NODE PID
stop_ejabberd() {
	setpriv --reuid ejabberd --regid ejabberd --init-groups env HOME=/var/lib/ejabberd \
		ejabberdctl --config-dir "$1/conf" --node "$2" stop >/dev/null 2>&1 || kill "$3"
	wait_pid "$3"
}

# wait_pid PID: wait until process PID is gone (or a zombie: a server
# the storm's restart started is not this shell's child).
wait_pid() {
	while kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; do sleep 0.2; done
}

stop_server() {
	case $1 in
	ejabberd) stop_ejabberd "$OUT/ejabberd-srv" bench-ejabberd@localhost "$PID" ;;
	*)
		kill "$PID"
		wait_pid "$PID"
		;;
	esac
	PID=0
}

# The federation pairs: start_pair SERVER starts side a ($S2S_A) and side
# b ($S2S_B) and sets PORT_A, PORT_B, PID_A and PID_B; stop_pair SERVER
# stops both. start_side_SERVER DIR PORT SIDE starts one side and sets
# PID.
PORT_A=0
PORT_B=0
PID_A=0
PID_B=0
start_pair() {
	local side port base
	case $1 in
	parley) base=15322 ;;
	prosody) base=25322 ;;
	ejabberd) base=35322 ;;
	esac
	for side in a b; do
		port=$([ $side = a ] && echo $base || echo $((base + 100)))
		"start_side_$1" "$OUT/$1-s2s-$side" "$port" $side
		if [ $side = a ]; then PID_A=$PID PORT_A=$port; else PID_B=$PID PORT_B=$port; fi
	done
}

# RENDER (default render_s2s) renders the side's configuration;
# ACCOUNTS_A and ACCOUNTS_B (default $S2S_COUNT) are how many accounts
# Parley's sides get.
start_side_parley() {
	local n=${ACCOUNTS_A:-$S2S_COUNT}
	[ "$3" = a ] || n=${ACCOUNTS_B:-$S2S_COUNT}
	mkdir -p "$1"
	"${RENDER:-render_s2s}" parley-s2s.yaml.in "$1" "$2" "$3" >"$1/parley.yaml"
	[ "$n" = 0 ] || parley_accounts "$1/parley.yaml" "$([ "$3" = a ] && echo "$S2S_A" || echo "$S2S_B")" "$n"
	taskset -c "$SERVER_CPU" "$BIN" serve --config "$1/parley.yaml" 2>"$1/parley.log" &
	PID=$!
	wait_port "$2"
}

start_side_prosody() {
	mkdir -p "$1/data"
	"${RENDER:-render_s2s}" prosody-s2s.cfg.lua.in "$1" "$2" "$3" >"$1/prosody.cfg.lua"
	chown -R prosody:prosody "$1"
	setpriv --reuid prosody --regid prosody --init-groups \
		taskset -c "$SERVER_CPU" prosody --config "$1/prosody.cfg.lua" -F >"$1/stdout.log" 2>&1 &
	PID=$!
	wait_port "$2"
}

start_side_ejabberd() {
	mkdir -p "$1/spool" "$1/logs" "$1/conf"
	cp /etc/ejabberd/inetrc "$1/conf/"
	"${RENDER:-render_s2s}" ejabberd-s2s.yml.in "$1" "$2" "$3" >"$1/conf/ejabberd.yml"
	PID=$(run_ejabberd "$1" "bench-ejabberd-$3@localhost" "$2")
}

stop_pair() {
	case $1 in
	ejabberd)
		stop_ejabberd "$OUT/ejabberd-s2s-a" bench-ejabberd-a@localhost "$PID_A"
		stop_ejabberd "$OUT/ejabberd-s2s-b" bench-ejabberd-b@localhost "$PID_B"
		;;
	*)
		kill "$PID_A" "$PID_B"
		wait_pid "$PID_A"
		wait_pid "$PID_B"
		;;
	esac
	PID_A=0 PID_B=0
}

# bench SERVER LABEL parley-bench-flags... : one JSON report line per
# scenario, against $DOMAIN on 127.0.0.1:$PORT. A scenario that fails (a
# server that cannot complete its setup in time, say) is reported and
# left out of the table ("—"); the other scenarios and servers still run.
bench() {
	local server=$1 label=$2
	shift 2
	log "$server: $label"
	if ! taskset -c "$GEN_CPU" "$BIN" bench --address "127.0.0.1:$PORT" --domain "$DOMAIN" \
		--user 'user%d' --password "$PASSWORD" --mechanism $MECH --curves $CURVES --tls starttls --insecure \
		--key-file "$OUT/scram-keys-$server.json" --progress 2s --json "$@" |
		jq -c --arg s "$server" --arg l "$label" '. + {server: $s, label: $l}' | tee -a "$OUT/results.jsonl" >&2; then
		log "$server: $label FAILED (left out of the table)"
		echo "$server $label" >>"$OUT/failed.txt"
	fi
}

# setup SERVER COUNT: the first pass, which logs every account in once,
# for every server alike: the generator stores the SCRAM keys it derives
# (--key-file), so that the measured runs spend no PBKDF2 on the
# generator's CPU (a storm of fresh derivations cost it more per login
# than Parley spent serving one), and each server has seen every account
# once. Prosody and ejabberd get their accounts here, by in-band
# registration (XEP-0077) through the kernel-chosen source 127.0.0.1,
# which the servers' registration limits trust.
setup() {
	if [ "$1" != parley ]; then
		bench "$1" setup --create --scenario login --count "$2" --sources "" --concurrency 8
	else
		bench "$1" setup --scenario login --count "$2" --sources "" --concurrency 8
	fi
}

# run_base SERVER: login storm, idle memory, chat, presence, MUC at $ROOM.
run_base() {
	local s=$1
	"start_$s"
	log "$s started, pid $PID"
	setup "$s" "$ACCOUNTS"
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

# run_idle SERVER: the idle scenario alone, with its storms (every
# session disconnecting at once, then every account logging in again at
# once), on a fresh server process after the setup pass.
run_idle() {
	local s=$1
	"start_$s"
	log "$s started, pid $PID"
	setup "$s" "$IDLE"
	stop_server "$s"
	"start_$s"
	sleep 2
	bench "$s" idle --scenario idle --count "$IDLE" --pid "$PID" --duration "$DURATION" --settle 5s
	stop_server "$s"
}

# run_login SERVER: the login storm alone (with CERT=rsa, the RSA row).
run_login() {
	local s=$1
	"start_$s"
	log "$s started, pid $PID"
	setup "$s" "$IDLE"
	settle "$PID"
	bench "$s" login --scenario login --count "$IDLE"
	stop_server "$s"
}

# run_storm SERVER: the reconnect storm, against the same server process
# (label storm), then across a restart of the server (label
# storm-restart): parley bench runs "compare.sh restart-server SERVER",
# which stops and starts it, the process ID passing through
# $OUT/server.pid.
run_storm() {
	local s=$1
	"start_$s"
	log "$s started, pid $PID"
	setup "$s" "$STORM"
	settle "$PID"
	bench "$s" storm --scenario storm --count "$STORM"
	settle "$PID"
	echo "$PID" >"$OUT/server.pid"
	bench "$s" storm-restart --scenario storm --count "$STORM" \
		--restart-cmd "OUT='$OUT' SERVER_CPU='$SERVER_CPU' '$ROOT/bench/compare.sh' restart-server $s >>'$OUT/restart.log' 2>&1"
	PID=$(cat "$OUT/server.pid")
	stop_server "$s"
}

# restart_server SERVER: stop the server whose process ID is in
# $OUT/server.pid and start it again on the same folder, writing its new
# process ID there (run by parley bench --restart-cmd, see run_storm).
restart_server() {
	PID=$(cat "$OUT/server.pid")
	stop_server "$1"
	"start_$1"
	echo "$PID" >"$OUT/server.pid"
}

# run_chat SERVER: 1:1 chat at saturation and at ejabberd's saturation
# rate, for each setting of $CHAT_MAM on a fresh server process. Labels:
# chat-max and chat-at-ejabberd-rate, with -mam appended when archived.
run_chat() {
	local s=$1 mam sfx rate flags
	for mam in $CHAT_MAM; do
		sfx="" flags=()
		if [ "$mam" = on ]; then
			# A longer drain: a server archiving slower than the senders
			# send holds thousands of messages when they stop (8 in flight
			# per sender); what the drain misses goes to offline storage
			# and comes at the next run's logins.
			sfx=-mam flags=(--verify-archive "$VERIFY_PAIRS" --drain "$MAM_DRAIN")
		fi
		MAM=$mam "start_$s"
		log "$s started (archive $mam), pid $PID"
		setup "$s" "$ACTIVE"
		settle "$PID"
		local prof=0
		if [ "$s" = parley ] && [ -n "${PARLEY_PPROF:-}" ]; then
			# The profile covers the traffic: the logins take a few seconds
			# first, the drain and the archive check come after.
			local secs=13
			[[ $DURATION =~ ^[0-9]+s$ ]] && secs=$(( ${DURATION%s} + 3 ))
			curl -sf -o "$OUT/parley-chat-max$sfx.cpu.pprof" "http://$PARLEY_PPROF/debug/pprof/profile?seconds=$secs" &
			prof=$!
		fi
		bench "$s" "chat-max$sfx" --scenario chat --count "$ACTIVE" --duration "$DURATION" "${flags[@]}"
		if [ "$prof" != 0 ]; then
			wait "$prof" || log "parley: CPU profile failed"
			curl -sf -o "$OUT/parley-chat-max$sfx.heap.pprof" "http://$PARLEY_PPROF/debug/pprof/heap" || log "parley: heap profile failed"
		fi
		rate=${CHAT_RATE:-}
		[ "$mam" = on ] && rate=${MAM_CHAT_RATE:-}
		if [ -z "$rate" ]; then
			rate=$(jq -r --arg l "chat-max$sfx" 'select(.server=="ejabberd" and .label==$l) | .msgs_per_sec' "$OUT/results.jsonl" | tail -1)
		fi
		if [ -n "$rate" ] && [ "$rate" != null ]; then
			bench "$s" "chat-at-ejabberd-rate$sfx" --scenario chat --count "$ACTIVE" --duration "$DURATION" \
				--rate "$rate" --window 1000 "${flags[@]}"
		fi
		stop_server "$s"
	done
}

# run_muc SERVER: MUC at every size of $MUC_SIZES, for each setting of
# $MUC_ARCHIVE, on a fresh server process per setting. Labels:
# muc-SIZE and muc-SIZE-archive.
run_muc() {
	local s=$1 archive size label flags
	for archive in $MUC_ARCHIVE; do
		ARCHIVE=$archive "start_$s"
		log "$s started (archiving $archive), pid $PID"
		setup "$s" "$MUC_COUNT"
		settle "$PID"
		for size in $MUC_SIZES; do
			label=muc-$size flags=(--window "$MUC_WINDOW" --join-timeout "$MUC_JOIN_TIMEOUT")
			if [ "$archive" = on ]; then
				label=$label-archive flags+=(--archive)
			fi
			if [ -n "$MUC_RATE" ]; then
				flags+=(--rate "$MUC_RATE")
			fi
			bench "$s" "$label" --scenario muc --count "$MUC_COUNT" --room-size "$size" --duration "$DURATION" "${flags[@]}"
			settle "$PID"
		done
		stop_server "$s"
	done
}

# run_s2s SERVER: a federation pair of SERVER; the generator's even
# sessions log in on $S2S_A, the odd ones on $S2S_B, and each pair
# chats across the link, at saturation and at a fixed rate.
run_s2s() {
	local s=$1
	# A server listening on *:5269 (Parley's default s2s listener, say)
	# would keep the pair from binding 127.0.0.2:5269 and 127.0.0.3:5269.
	if ss -Hltn 'sport = :5269' | grep -q .; then
		log "$s: s2s SKIPPED: port 5269 is taken: $(ss -Hltnp 'sport = :5269' | tr -s ' ' | head -3)"
		echo "$s s2s" >>"$OUT/failed.txt"
		return
	fi
	start_pair "$s"
	log "$s pair started, pids $PID_A and $PID_B"
	PORT=$PORT_A DOMAIN=$S2S_A setup "$s" "$S2S_COUNT"
	PORT=$PORT_B DOMAIN=$S2S_B setup "$s" "$S2S_COUNT"
	settle "$PID_A"
	settle "$PID_B"
	local peer=(--peer-address "127.0.0.1:$PORT_B" --peer-domain "$S2S_B" --pid "$PID_A" --peer-pid "$PID_B")
	PORT=$PORT_A DOMAIN=$S2S_A bench "$s" s2s-max --scenario s2s --count "$S2S_COUNT" --duration "$DURATION" "${peer[@]}"
	if [ -z "${S2S_RATE:-}" ]; then
		S2S_RATE=$(jq -r 'select(.server=="ejabberd" and .label=="s2s-max") | .msgs_per_sec' "$OUT/results.jsonl" | tail -1)
	fi
	if [ -n "$S2S_RATE" ] && [ "$S2S_RATE" != null ]; then
		PORT=$PORT_A DOMAIN=$S2S_A bench "$s" s2s-at-ejabberd-rate --scenario s2s --count "$S2S_COUNT" --duration "$DURATION" \
			--rate "$S2S_RATE" --window 1000 "${peer[@]}"
	fi
	stop_pair "$s"
}

# run_web SERVER: XMPP over WebSocket (wss) against TCP (STARTTLS) on one
# server process configured for both (WEB=on), see run_transport. Labels
# end in -ws or -tcp.
run_web() {
	run_transport "$1" ws WS_CHAT_RATE --websocket web_url
}

# run_bosh SERVER: XMPP over BOSH (https) against TCP (STARTTLS) on one
# server process configured for both (WEB=on), see run_transport. Labels
# end in -bosh or -tcp.
run_bosh() {
	run_transport "$1" bosh BOSH_CHAT_RATE --bosh bosh_url
}

# run_transport SERVER T RATEVAR FLAG URLFUNC: the transport T (label
# suffix; parley bench FLAG with the URL URLFUNC prints once the server
# runs) against TCP on one server process: login
# storms, idle memory (a fresh process for each transport), chat at
# saturation over both, and over T at ejabberd's saturation rate over T
# (RATEVAR, when not set already).
run_transport() {
	local s=$1 t=$2 ratevar=$3 tr
	WEB=on "start_$s"
	tr=("$4" "$("$5")")
	log "$s started with $t at ${tr[1]}, pid $PID"
	setup "$s" "$ACCOUNTS"
	settle "$PID"
	bench "$s" "login-$t" --scenario login --count "$IDLE" "${tr[@]}"
	settle "$PID"
	bench "$s" login-tcp --scenario login --count "$IDLE"
	local x
	for x in tcp "$t"; do
		stop_server "$s"
		WEB=on "start_$s"
		sleep 2
		if [ "$x" = "$t" ]; then
			bench "$s" "idle-$t" --scenario idle --count "$IDLE" --pid "$PID" --duration "$DURATION" --settle 5s "${tr[@]}"
		else
			bench "$s" idle-tcp --scenario idle --count "$IDLE" --pid "$PID" --duration "$DURATION" --settle 5s
		fi
	done
	bench "$s" "chat-max-$t" --scenario chat --count "$ACTIVE" --duration "$DURATION" "${tr[@]}"
	bench "$s" chat-max-tcp --scenario chat --count "$ACTIVE" --duration "$DURATION"
	if [ -z "${!ratevar:-}" ]; then
		printf -v "$ratevar" '%s' "$(jq -r --arg l "chat-max-$t" 'select(.server=="ejabberd" and .label==$l) | .msgs_per_sec' "$OUT/results.jsonl" | tail -1)"
	fi
	if [ -n "${!ratevar}" ] && [ "${!ratevar}" != null ]; then
		bench "$s" "chat-at-ejabberd-rate-$t" --scenario chat --count "$ACTIVE" --duration "$DURATION" --rate "${!ratevar}" --window 1000 "${tr[@]}"
	fi
	stop_server "$s"
}

# link_domains: the links part's remote domains, one a line.
link_domains() {
	local i
	for ((i = 0; i < LINKS; i++)); do echo "d$i.$S2S_B"; done
}

# render_links TEMPLATE DIR PORT SIDE > file: render_s2s, then side b
# serves the $LINKS remote domains instead of $S2S_B, and Parley's side
# a routes each of them to side b.
render_links() {
	local list
	if [ "$4" = a ]; then
		case $1 in
		parley-*) render_s2s "$@" | awk -v peer="\"$S2S_B\"" -v domains="$(link_domains)" '
			{ print }
			index($0, peer ":") { n = split(domains, d, "\n"); for (i = 1; i <= n; i++) printf "    \"%s\": \"127.0.0.3:5269\"\n", d[i] }' ;;
		*) render_s2s "$@" ;;
		esac
		return
	fi
	list=$(link_domains | paste -sd, -)
	case $1 in
	parley-*) render_s2s "$@" | sed -e "s#^domains: .*#domains: [$list]#" ;;
	ejabberd-*) render_s2s "$@" | sed -e "s#^hosts: .*#hosts: [$list]#" ;;
	prosody-*) render_s2s "$@" | grep -v '^VirtualHost ' && link_domains | sed 's/.*/VirtualHost "&"/' ;;
	esac
}

# add_link_hosts and remove_link_hosts put the links part's remote
# domains in /etc/hosts (at 127.0.0.3, side b) and take them out again.
add_link_hosts() {
	remove_link_hosts
	link_domains | sed 's/^/127.0.0.3 /' >>/etc/hosts
}

remove_link_hosts() {
	local kept
	kept=$(grep -vxF -f <(link_domains | sed 's/^/127.0.0.3 /') /etc/hosts || true)
	printf '%s\n' "$kept" >/etc/hosts
}

# annotate_last JSON: merge JSON into the last line of the results.
annotate_last() {
	local last
	last=$(tail -1 "$OUT/results.jsonl" | jq -c --argjson x "$1" '. + $x')
	sed -i '$d' "$OUT/results.jsonl"
	printf '%s\n' "$last" >>"$OUT/results.jsonl"
}

# run_links SERVER: memory per s2s link. Side a serves $S2S_A with one
# account, side b the $LINKS remote domains with none; one session on
# side a pings each remote domain.
run_links() {
	local s=$1 in out fds
	if ss -Hltn 'sport = :5269' | grep -q .; then
		log "$s: links SKIPPED: port 5269 is taken: $(ss -Hltnp 'sport = :5269' | tr -s ' ' | head -3)"
		echo "$s links" >>"$OUT/failed.txt"
		return
	fi
	# Fresh folders: the s2s part's have other domains and accounts.
	rm -rf "$OUT/$s-s2s-a" "$OUT/$s-s2s-b"
	RENDER=render_links ACCOUNTS_A=1 ACCOUNTS_B=0 start_pair "$s"
	log "$s links pair started ($LINKS domains on side b), pids $PID_A and $PID_B"
	PORT=$PORT_A DOMAIN=$S2S_A setup "$s" 1
	settle "$PID_A"
	settle "$PID_B"
	PORT=$PORT_A DOMAIN=$S2S_A bench "$s" s2s-links --scenario s2s-links --count 1 --links "$LINKS" \
		--link-domain "d%d.$S2S_B" --pid "$PID_A" --peer-pid "$PID_B" --settle 3s --concurrency 16
	# Side a's established s2s connections: incoming ones have local
	# port 5269, outgoing ones remote port 5269.
	in=$(ss -Htnp state established | grep -F "pid=$PID_A," | awk '$3 ~ /:5269$/' | wc -l)
	out=$(ss -Htnp state established | grep -F "pid=$PID_A," | awk '$4 ~ /:5269$/' | wc -l)
	fds=$(find "/proc/$PID_A/fd" -mindepth 1 -maxdepth 1 | wc -l)
	log "$s: side a holds $in incoming and $out outgoing s2s connections, $fds file descriptors"
	annotate_last "{\"streams_in\": $in, \"streams_out\": $out, \"fds\": $fds, \"fd_limit\": $(awk '/Max open files/ {print $4}' "/proc/$PID_A/limits")}"
	stop_pair "$s"
}

# cleanup, on exit: stop a server a failed part left running (it would
# hold the bench lock, inherited from compare.sh), take the names out of
# /etc/hosts.
cleanup() {
	local p
	for p in "$PID" "$PID_A" "$PID_B"; do
		if [ "$p" != 0 ] && kill -0 "$p" 2>/dev/null; then kill "$p" || true; fi
	done
	case " $SCENARIOS " in
	*" s2s "* | *" links "*) remove_hosts ;;
	esac
	case " $SCENARIOS " in
	*" links "*) remove_link_hosts ;;
	esac
}

main() {
	[ "$(id -u)" = 0 ] || { echo "compare.sh: run as root (apt-get, setpriv, /etc/hosts)" >&2; exit 1; }
	local part size
	for part in $SCENARIOS; do
		case $part in
		login | storm | base | chat | idle | muc | s2s | links | web | bosh) ;;
		*) echo "compare.sh: unknown part $part in SCENARIOS (want login, storm, base, chat, idle, muc, s2s, links, web, bosh)" >&2; exit 2 ;;
		esac
	done
	case " $SCENARIOS " in
	*" muc "*)
		for size in $MUC_SIZES; do
			[ $((MUC_COUNT % size)) = 0 ] || { echo "compare.sh: MUC_COUNT=$MUC_COUNT is not a multiple of room size $size" >&2; exit 2; }
		done
		;;
	esac
	rm -rf "$OUT"
	mkdir -p "$OUT"
	chmod 755 "$OUT"
	install_servers
	disable_services
	if [ -n "${PARLEY_BIN:-}" ]; then
		cp "$PARLEY_BIN" "$BIN"
	else
		log "building parley${PARLEY_TAGS:+ with -tags $PARLEY_TAGS}"
		if [ -n "${PARLEY_TAGS:-}" ]; then
			(cd "$ROOT" && CGO_ENABLED=1 go build -tags "$PARLEY_TAGS" -o "$BIN" ./cmd/parley)
		else
			(cd "$ROOT" && go build -o "$BIN" ./cmd/parley)
		fi
	fi
	make_cert
	trap cleanup EXIT
	case " $SCENARIOS " in
	*" s2s "* | *" links "*) add_hosts ;;
	esac
	case " $SCENARIOS " in
	*" links "*) add_link_hosts ;;
	esac
	: >"$OUT/results.jsonl"
	for s in $SERVERS; do
		for part in $SCENARIOS; do
			"run_$part" "$s"
		done
	done
	if [ -s "$OUT/failed.txt" ]; then
		log "failed scenarios: $(tr '\n' ',' <"$OUT/failed.txt")"
	fi
	local meta=()
	case " $SCENARIOS " in
	*" links "*) meta+=(--meta "links: side a serves $S2S_A, side b (same software) $LINKS domains d0.$S2S_B…; one session on side a pings each; RSS per link = side a's growth / links up (one stream each way per remote domain); file descriptors limited to $(ulimit -n) a process") ;;
	esac
	case " $SCENARIOS " in
	*" chat "*) meta+=(--meta "chat: 1:1 chat between pairs of sessions (2k to 2k+1's bare JID), CHAT_MAM=\"$CHAT_MAM\": -mam rows archive every message (Parley: mam module on SQLite, Prosody: mod_mam on internal storage, ejabberd: mod_mam on Mnesia; default always) and check the archives of $VERIFY_PAIRS pairs afterwards") ;;
	esac
	case " $SCENARIOS " in
	*" web "*) meta+=(--meta "web: XMPP over WebSocket (RFC 7395) over TLS (wss://, same certificate and key exchange), Parley's https listener, Prosody's mod_websocket (https_ports), ejabberd's ejabberd_http_ws (tls: true); TCP rows of the web part are STARTTLS on the same server process") ;;
	esac
	case " $SCENARIOS " in
	*" storm "*) meta+=(--meta "storm: $STORM clients log in once (SCRAM-SHA-1; on Parley over SASL2 with a FAST token requested), keeping their TLS session tickets, log out, then all reconnect at once with ticket (and FAST token where offered); storm-restart: the same after the server process restarted on its data folder") ;;
	esac
	case " $SCENARIOS " in
	*" bosh "*) meta+=(--meta "bosh: XMPP over BOSH (XEP-0124, XEP-0206) over TLS (https://, same certificate and key exchange; HTTP/1.1, keep-alive, one held request per session, hold=1, wait=60), Parley's https listener (/http-bind), Prosody's mod_bosh (https_ports), ejabberd's mod_bosh (ejabberd_http, tls: true); TCP rows of the bosh part are STARTTLS on the same server process") ;;
	esac
	/usr/bin/python3 "$ROOT/bench/compare_table.py" "$OUT/results.jsonl" "${meta[@]}" \
		--meta "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%Y-%m-%d), commit $(git -C "$ROOT" rev-parse --short HEAD)" \
		--meta "IDLE=$IDLE ACTIVE=$ACTIVE DURATION=$DURATION ROSTER=$ROSTER ROOM=$ROOM SCENARIOS=\"$SCENARIOS\" MUC_SIZES=\"$MUC_SIZES\" MUC_ARCHIVE=\"$MUC_ARCHIVE\" MUC_COUNT=$MUC_COUNT MUC_WINDOW=$MUC_WINDOW MUC_RATE=${MUC_RATE:-saturation} S2S_COUNT=$S2S_COUNT, $MECH over STARTTLS, $([ "$CERT" = rsa ] && echo RSA-2048 || echo ECDSA P-256) certificate, $CURVES key exchange, server(s) on CPU $SERVER_CPU, generator on CPU $GEN_CPU" \
		--meta "s2s: two servers of one kind ($S2S_A, $S2S_B), Server Dialback over STARTTLS, self-signed certificates"
}

if [ "${1:-}" = restart-server ]; then
	restart_server "$2"
else
	main "$@"
fi
