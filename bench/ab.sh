#!/bin/bash
# bench/ab.sh — A/B comparison of two or more Parley binaries, Parley alone.
#
#   bench/ab.sh NAME=BINARY[:TREE] NAME=BINARY[:TREE] ...
#
# Each round runs every scenario against every binary, and the order of the
# binaries rotates from round to round, so that neither binary always runs
# first (an order effect once made two back-to-back runs of compare.sh look
# like a 15 % regression). TREE is the source tree whose
# bench/configs/parley.yaml.in the binary is started with (an older binary
# may not know a newer configuration key); it defaults to this tree.
#
# Every run gets a fresh server process and data folder, the same
# certificate and accounts, the server pinned to CPU $SERVER_CPU and the
# generator (this tree's parley bench, or the first binary's) to $GEN_CPU,
# with SCRAM keys derived once (--key-file). Scenarios, each on a fresh
# server after a setup pass that logs every account in once:
#   login     a login storm of $COUNT sessions (logins/s)
#   idle      $IDLE sessions held idle (server RSS per session)
#   chat      1:1 chat at saturation, $COUNT sessions (messages/s)
#   presence  presence broadcast, rosters of 10 (deliveries/s)
#   muc       MUC fan-out, rooms of 10 (deliveries/s)
#
# Environment: ROUNDS=3, SCENARIOS="login idle chat presence muc",
# COUNT=1000, IDLE=3000, DURATION=20s, OUT=/tmp/parley-ab (wiped).
# Prints one line per run and, at the end, the mean per binary and
# scenario with each mean's ratio to the first binary's. Raw reports are
# in $OUT/results.jsonl (one JSON line per run, with "bin" and "round").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
ROUNDS=${ROUNDS:-3}
SCENARIOS=${SCENARIOS:-"login idle chat presence muc"}
COUNT=${COUNT:-1000}
IDLE=${IDLE:-3000}
DURATION=${DURATION:-20s}
OUT=${OUT:-/tmp/parley-ab}
SERVER_CPU=${SERVER_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
PORT=16222
PASSWORD=bench-password

[ $# -ge 2 ] || { sed -n 2,28p "$0" >&2; exit 2; }
NAMES=() BINS=() TREES=()
for arg in "$@"; do
	name=${arg%%=*} rest=${arg#*=}
	bin=${rest%%:*} tree=$ROOT
	[ "$rest" != "$bin" ] && tree=${rest#*:}
	[ -x "$bin" ] || { echo "ab.sh: $bin is not an executable" >&2; exit 2; }
	[ -f "$tree/bench/configs/parley.yaml.in" ] || { echo "ab.sh: no bench/configs/parley.yaml.in in $tree" >&2; exit 2; }
	NAMES+=("$name") BINS+=("$bin") TREES+=("$tree")
done
GEN=${BINS[0]}
ACCOUNTS=$(( IDLE > COUNT ? IDLE : COUNT ))

rm -rf "$OUT"
mkdir -p "$OUT"
: >"$OUT/results.jsonl"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=localhost \
	-keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null



# prepare I: a data folder of binary I with every account, kept as a
# template that each run copies.
prepare() {
	local i=$1 d=$OUT/tmpl-$1
	mkdir -p "$d"
	sed -e "s#@DIR@#$d#g" -e "s#@PORT@#$PORT#g" -e "s#@TLSPORT@#$((PORT + 1))#g" \
		"${TREES[$i]}/bench/configs/parley.yaml.in" >"$d/parley.yaml"
	echo "### ${NAMES[$i]}: creating $ACCOUNTS accounts" >&2
	for n in $(seq 0 $((ACCOUNTS - 1))); do
		echo "$PASSWORD" | "${BINS[$i]}" user add --config "$d/parley.yaml" "user$n@localhost" >/dev/null
	done
}

gen() {
	taskset -c "$GEN_CPU" "$GEN" bench --address "127.0.0.1:$PORT" --domain localhost \
		--user 'user%d' --password "$PASSWORD" --mechanism SCRAM-SHA-1 --curves x25519 --tls starttls --insecure \
		--key-file "$OUT/scram-keys.json" --json "$@" 2>>"$OUT/generator.log"
}

# run I ROUND SCENARIO: one measured run on a fresh server.
run() {
	local i=$1 round=$2 scen=$3 d=$OUT/run pid args
	rm -rf "$d"
	cp -a "$OUT/tmpl-$i" "$d"
	sed -i "s#$OUT/tmpl-$i#$d#g" "$d/parley.yaml"
	taskset -c "$SERVER_CPU" "${BINS[$i]}" serve --config "$d/parley.yaml" >"$d/server.log" 2>&1 &
	pid=$!
	wait_port $PORT
	if [ "$scen" != idle ]; then
		gen --scenario login --count "$ACCOUNTS" --sources "" --concurrency 8 >/dev/null
		settle $pid
	fi
	case $scen in
	login) args=(--scenario login --count "$COUNT") ;;
	idle) args=(--scenario idle --count "$IDLE" --pid "$pid" --duration "$DURATION" --settle 5s) ;;
	chat) args=(--scenario chat --count "$COUNT" --duration "$DURATION") ;;
	presence) args=(--scenario presence --count "$COUNT" --roster 10 --duration "$DURATION" --window 2 --login-rate 2000) ;;
	muc) args=(--scenario muc --count "$COUNT" --room-size 10 --duration "$DURATION" --window 2) ;;
	*) echo "ab.sh: unknown scenario $scen" >&2; exit 2 ;;
	esac
	if ! gen "${args[@]}" | jq -c --arg b "${NAMES[$i]}" --arg s "$scen" --argjson r "$round" \
		'. + {bin: $b, label: $s, round: $r}' >>"$OUT/results.jsonl"; then
		echo "### ${NAMES[$i]} $scen round $round FAILED" >&2
	fi
	kill $pid
	while kill -0 $pid 2>/dev/null; do sleep 0.2; done
	tail -1 "$OUT/results.jsonl" | jq -r '"\(.bin) round \(.round) \(.label): logins/s \(.logins_per_sec|floor) msgs/s \(.msgs_per_sec|floor) rss/session \(.rss_per_session) lost \(.lost) errors \(.errors)"' >&2
}

gen_setup() {
	# The key file: derive every account's SCRAM keys once, against the
	# first binary's template.
	local d=$OUT/run pid
	rm -rf "$d"
	cp -a "$OUT/tmpl-0" "$d"
	sed -i "s#$OUT/tmpl-0#$d#g" "$d/parley.yaml"
	"${BINS[0]}" serve --config "$d/parley.yaml" >"$d/server.log" 2>&1 &
	pid=$!
	wait_port $PORT
	gen --scenario login --count "$ACCOUNTS" --sources "" --concurrency 8 >/dev/null
	kill $pid
	while kill -0 $pid 2>/dev/null; do sleep 0.2; done
}

for i in "${!BINS[@]}"; do prepare "$i"; done
gen_setup
n=${#BINS[@]}
for round in $(seq 1 "$ROUNDS"); do
	for scen in $SCENARIOS; do
		for k in $(seq 0 $((n - 1))); do
			run $(( (k + round - 1) % n )) "$round" "$scen"
		done
	done
done

# The summary: the figure that matters per scenario, averaged over rounds.
jq -rs --arg first "${NAMES[0]}" '
  def fig: if .label == "login" then .logins_per_sec
    elif .label == "idle" then .rss_per_session / 1024
    else .msgs_per_sec end;
  group_by(.label)[] | . as $runs
  | ($runs | map(select(.bin == $first) | fig) | add / length) as $base
  | ($runs | group_by(.bin)[] | "\(.[0].label)\t\(.[0].bin)\t\(map(fig) | add / length | . * 10 | round / 10)\t\((map(fig) | add / length) / $base | . * 100 | round / 100)\t\(map(fig | . * 10 | round / 10) | join(" "))")
' "$OUT/results.jsonl" | (printf 'scenario\tbinary\tmean\tratio\truns\n'; cat) | column -t -s $'\t'
