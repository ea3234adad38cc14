#!/bin/bash
# bench/bosh-login-ab.sh BIN... — BOSH login storms against Parley
# binaries, alternated, with the CPU each side spent: for each round and
# each binary (the order rotating from round to round), a fresh server
# process (compare.sh's configuration with the https listener: TLS,
# SCRAM-SHA-1 4096, X25519, ECDSA P-256, SQLite, MAM off) on CPU 0 takes
# COUNT (1000) logins over BOSH (https://…/http-bind), CONCURRENCY (64)
# in flight, then COUNT logins over TCP (STARTTLS) as a control; the
# generator (the first binary's parley bench) runs on CPU 1. Prints one
# JSON line per storm: the bench report with "binary", "round",
# "transport", "server_cpu_ms_per_login" and "gen_cpu_ms_per_login"
# (user + system time of each process over the storm, from /proc and
# time(1), logouts included). PROFILE=1 takes a CPU profile of the
# server during each BOSH storm ($OUT/bosh-BIN-ROUND.pprof). Accounts
# and SCRAM keys are made once in $OUT (/tmp/parley-bosh-ab), by
# bench/idle-mem.sh (SETUP_ONLY). Ports
# 17422 (c2s), 17480 (https), 17460 (pprof) on 127.0.0.1. Hold the bench
# lock while measuring: flock /tmp/parley-bench.lock bench/bosh-login-ab.sh
# /tmp/old /tmp/new.
set -euo pipefail
OUT=${OUT:-/tmp/parley-bosh-ab}
COUNT=${COUNT:-1000}
CONCURRENCY=${CONCURRENCY:-64}
ROUNDS=${ROUNDS:-2}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
PASSWORD=benchpass
TIME=()
[ $# -ge 1 ] || { sed -n 2,19p "$0" >&2; exit 2; }
GEN=$1
# The certificate, configuration, accounts and SCRAM keys of
# bench/idle-mem.sh (its N accounts), with the https listener added.
OUT=$OUT N=$COUNT SETUP_ONLY=1 "$(dirname "$0")/idle-mem.sh" "$GEN"
sed -e 's|^  - {type: c2s, address: "127.0.0.1:17422"}$|&\n  - {type: https, address: "127.0.0.1:17480"}|' "$OUT/parley.yaml" >"$OUT/parley-bosh.yaml"
grep -q 17480 "$OUT/parley-bosh.yaml" || { echo "bosh-login-ab.sh: no https listener added to $OUT/parley.yaml" >&2; exit 2; }

pid=
trap '[ -z "$pid" ] || kill $pid 2>/dev/null || true' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start() {
	taskset -c "$SERVER_CPU" "$1" serve --config "$OUT/parley-bosh.yaml" ${PROFILE:+--pprof 127.0.0.1:17460} >>"$OUT/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/17480) 2>/dev/null && break; sleep 0.2; done
}

gen() {
	"${TIME[@]}" taskset -c "$GEN_CPU" "$GEN" bench --address 127.0.0.1:17422 --domain localhost --user 'user%d' \
		--password "$PASSWORD" --mechanism SCRAM-SHA-1 --curves x25519 --tls starttls --insecure \
		--key-file "$OUT/scram-keys.json" "$@"
}

# storm BIN ROUND TRANSPORT ARGS...: one measured storm on the running server.
storm() {
	local bin=$1 round=$2 tr=$3 s0 s1 c=
	shift 3
	sleep 2
	s0=$(cpu_ticks $pid)
	if [ -n "${PROFILE:-}" ] && [ "$tr" = bosh ]; then
		curl -s -o "$OUT/bosh-$(basename "$bin")-$round.pprof" "http://127.0.0.1:17460/debug/pprof/profile?seconds=${PROF_SECONDS:-3}" &
		c=$!
	fi
	TIME=(/usr/bin/time -f '%U %S' -o "$OUT/gen-time")
	gen --scenario login --count "$COUNT" \
		--concurrency "$CONCURRENCY" --quiet --json "$@" >"$OUT/report.json"
	s1=$(cpu_ticks $pid)
	TIME=()
	[ -z "$c" ] || wait $c || true
	read -r gu gs <"$OUT/gen-time"
	jq -c --arg b "$bin" --arg t "$tr" --argjson r "$round" --argjson st $((s1 - s0)) --argjson gu "$gu" --argjson gs "$gs" \
		'. + {binary: $b, round: $r, transport: $t,
		      server_cpu_ms_per_login: ($st * 10 / .logins),
		      gen_cpu_ms_per_login: (($gu + $gs) * 1000 / .logins)}' "$OUT/report.json"
}

bins=("$@")
n=${#bins[@]}
for round in $(seq 1 "$ROUNDS"); do
	for k in $(seq 0 $((n - 1))); do
		bin=${bins[$(( (k + round - 1) % n ))]}
		start "$bin"
		storm "$bin" "$round" bosh --bosh https://127.0.0.1:17480/http-bind
		storm "$bin" "$round" tcp
		kill $pid
		wait $pid 2>/dev/null || true
	done
done
