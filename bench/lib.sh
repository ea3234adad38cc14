# bench/lib.sh — shell functions shared by compare.sh and ab.sh (sourced).

# wait_port PORT [HOST]: wait (up to 60 s) until something listens on
# HOST:PORT (HOST: 127.0.0.1 by default).
wait_port() {
	local host=${2:-127.0.0.1}
	for _ in $(seq 300); do
		if (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	echo "server on $host port $1 did not start" >&2
	return 1
}

# settle PID: wait (up to 30 s) until process PID uses under 5 % of a
# CPU, so that a measured run does not share it with the end of the
# previous one (the logouts of a setup pass).
settle() {
	local before after
	for _ in $(seq 30); do
		before=$(awk '{print $14+$15}' "/proc/$1/stat")
		sleep 1
		after=$(awk '{print $14+$15}' "/proc/$1/stat")
		# clock ticks are 1/100 s: under 5 ticks in one second is under 5 %.
		if [ $((after - before)) -lt 5 ]; then return 0; fi
	done
}
