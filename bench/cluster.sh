#!/bin/bash
# bench/cluster.sh — parley bench against a Parley cluster of 1, 2 and 3
# nodes on this machine (and, as the baseline, one server with the same
# PostgreSQL storage and no cluster), one after another, with the same
# accounts and settings; one JSON report line per run in $OUT/results.jsonl.
#
# The nodes run `parley serve` on 127.0.0.1, 127.0.0.2 and 127.0.0.3
# (ports $BASEPORT, +1, +2: 16222, 16223, 16224), all pinned to CPU $SERVER_CPU, so that a
# row with more nodes has the same processor as the row with one: on one
# machine the table shows what clustering costs, not what it scales to.
# The generator (parley bench) runs on CPU $GEN_CPU. PostgreSQL and NATS
# are the machine's ($PARLEY_TEST_POSTGRES, $PARLEY_TEST_NATS, as the
# cluster tests take them): the script makes a database of its own
# (parley_bench_<random>) and drops it at the end, and each row uses
# JetStream buckets of a unique name (parleybench_<random>_<nodes>_*),
# deleted once the row's nodes have stopped.
#
# Each row runs, the sessions spread round-robin over the nodes:
#   idle        $COUNT sessions held $DURATION: memory per session, the
#               RSS of all the nodes summed (--pid with every node's), on
#               nodes that have served nothing yet (after the setup pass
#               of the first row, which makes the accounts, the nodes
#               start again)
#   login       $COUNT logins (the login storm: logins/s and latency)
#   chat-same   1:1 chat between $ACTIVE sessions for $DURATION at
#               saturation, each pair's two sessions on the same node
#               (--pairing same-node)
#   chat-cross  the same with each pair's sessions on two nodes
#               (--pairing cross-node): every message crosses NATS
# The chat reports give the processor time of the nodes and of the NATS
# server ($NATS_PID, found by name unless given) per delivery: the
# difference between chat-cross and chat-same is the cost of a cross-node
# delivery. With one node (or none) the two chat runs are the same
# thing twice: their difference is the noise of the measure.
#
# Environment knobs:
#   NODES="0 1 2 3"   rows: 0 is one server without cluster
#   COUNT=2000        sessions of the login and idle runs (accounts made)
#   ACTIVE=1000       sessions of the chat runs
#   DURATION=10s      length of the chat traffic and of the idle hold
#   CHAT_ROUNDS=1     rounds of the two chat runs (labels chat-same-2,
#                     chat-cross-2… after the first), to see the noise
#   SERVER_CPU=0 GEN_CPU=1
#   OUT=/tmp/parley-cluster   work folder (wiped)
#   PARLEY_BIN=path   use this binary instead of building one
#   PPROF=off         on: every node serves net/http/pprof on
#                     127.0.0.K:$((BASEPORT+1000+K-1)), and a CPU profile of
#                     node 1 is taken PROFILE_SECONDS (5) into each chat
#                     run's traffic, for PROFILE_SECONDS:
#                     $OUT/row<N>-node1-<label>.cpu.pprof (the profiler
#                     costs processor time: not for the measured figures)
#   LOCK=/tmp/parley-bench.lock   the machine's benchmark lock, held for
#                     the whole run (LOCK= to run without it)
#
# Usage: PARLEY_TEST_POSTGRES=postgres://… PARLEY_TEST_NATS=nats://… bench/cluster.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh" # wait_port, settle
PG=${PARLEY_TEST_POSTGRES:?set PARLEY_TEST_POSTGRES to a postgres:// URL whose user may create databases}
NATS=${PARLEY_TEST_NATS:?set PARLEY_TEST_NATS to the nats:// URL of a NATS server with JetStream}
NODES=${NODES:-"0 1 2 3"}
COUNT=${COUNT:-2000}
ACTIVE=${ACTIVE:-1000}
DURATION=${DURATION:-10s}
CHAT_ROUNDS=${CHAT_ROUNDS:-1}
PPROF=${PPROF:-off}
PROFILE_SECONDS=${PROFILE_SECONDS:-5}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
OUT=${OUT:-/tmp/parley-cluster}
LOCK=${LOCK-/tmp/parley-bench.lock}
BASEPORT=${BASEPORT:-16222}
DOMAIN=localhost
PASSWORD=bench-password
RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
DB=parley_bench_$RUN_ID
BIN=$OUT/parley
PIDS=()

log() { printf '\n### %s\n' "$*" >&2; }

if [ -n "$LOCK" ]; then
	exec 9>"$LOCK"
	log "waiting for the benchmark lock $LOCK"
	flock 9
fi

rm -rf "$OUT"
mkdir -p "$OUT"
: >"$OUT/bench.log"
if [ -n "${PARLEY_BIN:-}" ]; then
	cp "$PARLEY_BIN" "$BIN"
else
	(cd "$ROOT" && go build -o "$BIN" ./cmd/parley)
fi

# The database's URL: $PG with its path replaced by /$DB.
pg_base=${PG%%\?*}
pg_query=${PG#"$pg_base"}
DBURL=${pg_base%/*}/$DB$pg_query

# NATS_PID: the NATS server whose processor time the chat runs report
# apart (none if it is not on this machine).
NATS_PID=${NATS_PID:-$(pgrep -x nats-server | head -1 || true)}

# nats_delete_buckets NAME: delete the JetStream buckets NAME_sessions,
# NAME_nodes and NAME_components, speaking the NATS protocol over
# /dev/tcp (no NATS client needed): one JetStream API request each, the
# answer read from an inbox.
nats_delete_buckets() {
	local hostport=${NATS#nats://} line payload b
	hostport=${hostport##*@}
	exec 8<>"/dev/tcp/${hostport%:*}/${hostport##*:}"
	read -r -t 5 line <&8 # INFO
	printf 'CONNECT {"verbose":false,"pedantic":false}\r\nSUB _INBOX.clusterbench 1\r\n' >&8
	for b in sessions nodes components; do
		printf 'PUB $JS.API.STREAM.DELETE.KV_%s_%s _INBOX.clusterbench 0\r\n\r\n' "$1" "$b" >&8
		payload=""
		while read -r -t 5 line <&8; do
			case $line in
			MSG*) read -r -t 5 payload <&8; break ;;
			PING*) printf 'PONG\r\n' >&8 ;;
			-ERR*) payload=$line; break ;;
			esac
		done
		case $payload in
		*'"success":true'*) ;;
		*) echo "deleting bucket ${1}_$b: ${payload:-no answer}" >&2 ;;
		esac
	done
	exec 8>&-
}

# render N K BUCKETS: the configuration of node K (1…) of a row of N
# nodes (N = 0: one server without cluster).
render() {
	local n=$1 k=$2 dir=$OUT/row$1/node$2
	cat <<EOF
# bench/cluster.sh, row of $n nodes, node $k. As bench/configs/parley.yaml.in
# (compare.sh): SCRAM with 4096 iterations, no login throttling, no rate
# limits, no message archive; storage in PostgreSQL.
domains: [$DOMAIN]
data_dir: $dir/data
storage: "$DBURL"
listeners:
  - type: c2s
    address: "127.0.0.$k:$((BASEPORT + k - 1))"
tls:
  certificates:
    - cert: $OUT/cert.pem
      key: $OUT/key.pem
auth:
  scram_iterations: 4096
  max_failure_delay: 0s
registration:
  enabled: true
  max_per_ip_per_hour: 0
limits:
  preauth_timeout: 60s
  preauth_connections_per_address: 0
  rate: {bytes_per_second: 0, stanzas_per_second: 0}
  preauth_rate: {bytes_per_second: 0, stanzas_per_second: 0}
log:
  level: warn
modules:
  disabled: [mam]
EOF
	if [ "$n" -gt 0 ]; then
		cat <<EOF
cluster:
  enabled: true
  node: node$k
  name: $3
  nats: "$NATS"
EOF
	fi
}

# start_row N BUCKETS: start the row's nodes (one for N = 0) and wait
# until each sees all of them alive. Sets PIDS and ADDRS.
start_row() {
	local n=$1 nodes=$(($1 > 0 ? $1 : 1)) k dir
	PIDS=() ADDRS=""
	for k in $(seq "$nodes"); do
		dir=$OUT/row$n/node$k
		mkdir -p "$dir/data"
		cp "$OUT/secret" "$dir/data/secret" # every node shares the data folder's secret
		render "$n" "$k" "$2" >"$dir/parley.yaml"
		pprof=()
		[ "$PPROF" != on ] || pprof=(--pprof "127.0.0.$k:$((BASEPORT + 1000 + k - 1))")
		taskset -c "$SERVER_CPU" "$BIN" serve --config "$dir/parley.yaml" "${pprof[@]}" 2>"$dir/parley.log" &
		PIDS+=($!)
		ADDRS+="${ADDRS:+,}127.0.0.$k:$((BASEPORT + k - 1))"
	done
	for k in $(seq "$nodes"); do
		wait_port $((BASEPORT + k - 1)) "127.0.0.$k"
		# Listening, and the node we started (not another process on that
		# port).
		kill -0 "${PIDS[$((k - 1))]}" 2>/dev/null || { echo "node$k did not start: $OUT/row$n/node$k/parley.log" >&2; return 1; }
	done
	[ "$n" -gt 0 ] || return 0
	for k in $(seq "$nodes"); do
		for i in $(seq 100); do
			if [ "$("$BIN" status --config "$OUT/row$n/node$k/parley.yaml" 2>/dev/null | grep -c ': alive')" -eq "$n" ]; then
				break
			fi
			[ "$i" -lt 100 ] || { echo "node$k does not see $n live nodes" >&2; return 1; }
			sleep 0.2
		done
	done
}

# stop_row: SIGTERM every node (they drain) and wait for them.
stop_row() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}

cleanup() {
	stop_row
	if [ -n "${BUCKETS:-}" ]; then nats_delete_buckets "$BUCKETS" || true; fi
	psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || echo "could not drop database $DB" >&2
}
trap cleanup EXIT

# bench N LABEL parley-bench-flags...: one JSON line per scenario, with
# the row's node count and the label added.
bench() {
	local n=$1 label=$2
	shift 2
	log "$n nodes: $label"
	taskset -c "$GEN_CPU" "$BIN" bench --address "$ADDRS" --domain "$DOMAIN" \
		--user 'user%d' --password "$PASSWORD" --mechanism SCRAM-SHA-1 --curves x25519 --tls starttls --insecure \
		--key-file "$OUT/scram-keys.json" --progress 1s --json "$@" 2> >(tee -a "$OUT/bench.log" >&2) |
		jq -c --argjson n "$n" --arg l "$label" '. + {nodes: $n, label: $l}' | tee -a "$OUT/results.jsonl" >&2
}

# profile N LABEL: a CPU profile of node 1 for PROFILE_SECONDS, once the
# chat run's logins are done (the generator's progress says so) and its
# traffic has run PROFILE_SECONDS.
profile() {
	local since i
	since=$(($(wc -l <"$OUT/bench.log") + 1))
	for i in $(seq 240); do
		if tail -n +"$since" "$OUT/bench.log" | grep -q "sent [0-9]"; then break; fi
		[ "$i" -lt 240 ] || { echo "no traffic to profile in row $1, $2" >&2; return 0; }
		sleep 0.5
	done
	sleep "$PROFILE_SECONDS"
	curl -sf -o "$OUT/row$1-node1-$2.cpu.pprof" \
		"http://127.0.0.1:$((BASEPORT + 1000))/debug/pprof/profile?seconds=$PROFILE_SECONDS" ||
		echo "no profile for row $1, $2" >&2
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=$DOMAIN \
	-addext "subjectAltName=DNS:$DOMAIN" -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
head -c 32 /dev/urandom >"$OUT/secret"
log "database $DB"
psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null

ACCOUNTS=$((COUNT > ACTIVE ? COUNT : ACTIVE))
for n in $NODES; do
	BUCKETS=""
	[ "$n" = 0 ] || BUCKETS=parleybench_${RUN_ID}_$n
	start_row "$n" "$BUCKETS"
	if [ ! -f "$OUT/accounts.done" ]; then
		# The accounts, by in-band registration, and every account logged
		# in once: the generator keeps the SCRAM keys it derives
		# (--key-file), so that no measured run spends PBKDF2 on its CPU.
		# Then the nodes start again, so that the idle run has fresh
		# processes in every row.
		bench "$n" setup --create --scenario login --count "$ACCOUNTS" --sources "" --concurrency 8
		touch "$OUT/accounts.done"
		stop_row
		[ -z "$BUCKETS" ] || nats_delete_buckets "$BUCKETS"
		start_row "$n" "$BUCKETS"
	fi
	pidlist=$(IFS=,; echo "${PIDS[*]}")
	cpu=()
	[ -z "$NATS_PID" ] || cpu=(--cpu-pid "$NATS_PID")
	# The idle run first, on processes that have served nothing yet: a
	# process that ran the chat runs gives back memory while the idle
	# sessions log in, which hides their cost.
	for p in "${PIDS[@]}"; do settle "$p"; done
	bench "$n" idle --scenario idle --count "$COUNT" --duration "$DURATION" --pid "$pidlist"
	for p in "${PIDS[@]}"; do settle "$p"; done
	bench "$n" login --scenario login --count "$COUNT"
	for p in "${PIDS[@]}"; do settle "$p"; done
	for round in $(seq "$CHAT_ROUNDS"); do
		sfx=""
		[ "$round" = 1 ] || sfx=-$round
		for pairing in same cross; do
			for p in "${PIDS[@]}"; do settle "$p"; done
			prof=""
			if [ "$PPROF" = on ]; then
				profile "$n" "chat-$pairing$sfx" &
				prof=$!
			fi
			bench "$n" "chat-$pairing$sfx" --scenario chat --count "$ACTIVE" --duration "$DURATION" \
				--pairing "$pairing-node" --pid "$pidlist" "${cpu[@]}"
			[ -z "$prof" ] || wait "$prof"
		done
	done
	stop_row
	[ -z "$BUCKETS" ] || nats_delete_buckets "$BUCKETS"
	BUCKETS=""
done
log "reports: $OUT/results.jsonl"
