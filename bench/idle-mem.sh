#!/bin/bash
# bench/idle-mem.sh BIN... — idle memory per session of Parley binaries, and
# where that memory is: for each binary given, one fresh server process
# (compare.sh's configuration: STARTTLS, SCRAM-SHA-1 4096, X25519, ECDSA
# P-256, SQLite, MAM off) on CPU 0, `parley bench --scenario idle` with N
# (10000) sessions on CPU 1, and, while the sessions are held, a breakdown
# of the server's resident memory:
#   - the resident set split into anonymous, file-backed and shared
#     memory (/proc/PID/status);
#   - the runtime's statistics after a collection (runtime.MemStats from
#     /debug/pprof/heap?debug=1&gc=1): live heap, heap spans in use,
#     released, stacks, span metadata (the anonymous memory the runtime
#     does not account for is what cgo-free C code — modernc.org/libc,
#     SQLite's page caches — allocated);
#   - the number of goroutines.
# Prints one JSON line per binary: the bench report with "binary",
# "breakdown" and "breakdown_before" (the same figures before the logins)
# added. Hold the bench lock: flock /tmp/parley-bench.lock
# bench/idle-mem.sh /tmp/old /tmp/new. Ports 17422 (c2s) and 17460
# (pprof) on 127.0.0.1; work files in $OUT (/tmp/parley-idle-mem). One
# process may hold 20,000 open files here: N ≤ 19,000 or so.
set -euo pipefail
N=${N:-10000}
DUR=${DURATION:-10s}
SETTLE=${SETTLE:-8s}
OUT=${OUT:-/tmp/parley-idle-mem}
SERVER_CPU=${SERVER_CPU:-0}
SERVER_ENV=${SERVER_ENV:-}   # e.g. SERVER_ENV=GOGC=50: the server's environment only
GEN_CPU=${GEN_CPU:-1}
PASSWORD=benchpass
mkdir -p "$OUT"
if [ ! -f "$OUT/key.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
		-keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
fi
cat >"$OUT/parley.yaml" <<YAML
domains: [localhost]
data_dir: $OUT/data
listeners:
  - {type: c2s, address: "127.0.0.1:17422"}
tls:
  certificates: [{cert: $OUT/cert.pem, key: $OUT/key.pem}]
auth: {scram_iterations: 4096, max_failure_delay: 0s}
limits:
  preauth_timeout: 60s
  preauth_connections_per_address: 0
  rate: {bytes_per_second: 0, stanzas_per_second: 0}
  preauth_rate: {bytes_per_second: 0, stanzas_per_second: 0}
log: {level: warn}
modules: {disabled: [mam]}
YAML

# rss_split PID: resident KiB of anonymous memory (the Go runtime's heap,
# stacks and metadata, and what modernc.org/libc — SQLite — allocates
# with mmap outside the Go heap), file-backed pages (the binary) and
# shared memory (SQLite's WAL index), from /proc/PID/status, as JSON.
rss_split() {
	awk '$1 == "RssAnon:" { a = $2 } $1 == "RssFile:" { f = $2 } $1 == "RssShmem:" { s = $2 }
	END { printf "{\"anon_kib\":%d,\"file_kib\":%d,\"shmem_kib\":%d}", a, f, s }' "/proc/$1/status"
}

# memstats: the runtime's figures (runtime.MemStats) from the pprof heap
# page, after a collection, so that HeapAlloc is the live heap and
# HeapInuse - HeapAlloc the free room inside spans that hold live objects.
memstats() {
	curl -s "http://127.0.0.1:17460/debug/pprof/heap?debug=1&gc=1" | awk '
	/^# (HeapAlloc|HeapSys|HeapIdle|HeapInuse|HeapReleased|HeapObjects|BuckHashSys|GCSys|OtherSys|Sys|NumGC) = / {
		o = o sep "\"" $2 "\":" $4; sep = ","
	}
	/^# (Stack|MSpan|MCache) = / {
		o = o sep "\"" $2 "Inuse\":" $4 ",\"" $2 "Sys\":" $6; sep = ","
	}
	END { printf "{%s}", o }'
}

goroutines() {
	curl -s "http://127.0.0.1:17460/debug/pprof/goroutine?debug=1" | awk 'NR == 1 { print $4 }'
}

start() {
	env $SERVER_ENV taskset -c "$SERVER_CPU" "$1" serve --config "$OUT/parley.yaml" --pprof 127.0.0.1:17460 >>"$OUT/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/17422) 2>/dev/null && break; sleep 0.2; done
}

gen() {
	taskset -c "$GEN_CPU" "$1" bench --address 127.0.0.1:17422 --domain localhost --user 'user%d' \
		--password "$PASSWORD" --mechanism SCRAM-SHA-1 --curves x25519 --tls starttls --insecure \
		--key-file "$OUT/scram-keys.json" "${@:2}"
}

first=$1
if [ ! -f "$OUT/accounts.done" ]; then
	start "$first"
	for i in $(seq 0 $((N - 1))); do
		echo "$PASSWORD" | "$first" user add --config "$OUT/parley.yaml" "user$i@localhost" >/dev/null
	done
	# One pass that derives and keeps the SCRAM keys (not measured).
	gen "$first" --scenario login --count "$N" --concurrency 8 --quiet >/dev/null
	kill $pid
	wait $pid 2>/dev/null || true
	touch "$OUT/accounts.done"
fi
# SETUP_ONLY=1: make the accounts and keys (no need for the bench lock), stop.
[ -z "${SETUP_ONLY:-}" ] || exit 0

for bin in "$@"; do
	start "$bin"
	sleep 2
	ms0=$(memstats)
	split0=$(rss_split $pid)
	tag=$(basename "$bin")${SERVER_ENV:+-${SERVER_ENV//[^A-Za-z0-9]/_}}
	rm -f "$OUT/bench-$tag.log" # a previous run's "holding" lines would end the wait below at once
	gen "$bin" --scenario idle --count "$N" --pid $pid --duration "$DUR" --settle "$SETTLE" --progress 2s --json \
		>"$OUT/report.json" 2>"$OUT/bench-$tag.log" &
	b=$!
	# Once every session is held (the bench's "holding" lines), wait a
	# little and take the breakdown.
	until grep -q '^.*holding [0-9]* sessions' "$OUT/bench-$tag.log" 2>/dev/null; do
		kill -0 $b 2>/dev/null || break
		sleep 1
	done
	sleep 3
	rss=$(awk '$1 == "Rss:" { print $2 }' "/proc/$pid/smaps_rollup")
	split=$(rss_split $pid)
	ms=$(memstats)
	g=$(goroutines)
	curl -s -o "$OUT/heap-$tag.pb.gz" "http://127.0.0.1:17460/debug/pprof/heap?gc=1" || true
	wait $b
	kill $pid
	wait $pid 2>/dev/null || true
	jq -c --arg b "$bin" --arg env "$SERVER_ENV" --argjson split "$split" --argjson ms "$ms" --argjson ms0 "$ms0" --argjson split0 "$split0" --arg g "$g" --arg rss "$rss" \
		'. + {binary: $b, server_env: $env, breakdown: ($split + {rss_kib: ($rss | tonumber), goroutines: ($g | tonumber), memstats: $ms}), breakdown_before: ($split0 + {memstats: $ms0})}' "$OUT/report.json"
done
