#!/bin/sh
# API throughput against the limit of the HTTP stack: GET /apps with 100
# apps from the real API handler, and from a bare net/http handler that
# writes the same bytes and headers, both in one Go program (api-bench), both
# loaded by the same wrk with the same X-Auth header, in interleaved rounds.
# Prints each run, the means, and the ratio real/bare (goal: >= 0.5).
#
#   bench/api/run.sh                       # needs wrk (apt-get install wrk)
#   DURATION=10s CONNS=32 ROUNDS=3 APPS=100 bench/api/run.sh
#   LOG=stderr bench/api/run.sh            # the real API logging every request, as serve does
set -eu

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
APPS=${APPS:-100}
LOG=${LOG:-discard}
REAL=127.0.0.1:18091
BARE=127.0.0.1:18092
TOKEN=bench-token

for cmd in go wrk curl; do
	command -v $cmd >/dev/null || { echo "run.sh: $cmd not found (apt-get install wrk curl)" >&2; exit 1; }
done

cd "$(dirname "$0")/../.."
work=$(mktemp -d)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

go build -o "$work/api-bench" ./bench/api

echo "# machine"
echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(go version); $(wrk -v 2>&1 | head -1)"
echo

"$work/api-bench" -real $REAL -bare $BARE -apps "$APPS" -token $TOKEN -log "$LOG" 2>"$work/api.log" &
pid=$!
i=0
until curl -fsS -o /dev/null -H "X-Auth: $TOKEN" "http://$REAL/apps" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "run.sh: api-bench did not start:" >&2; cat "$work/api.log" >&2; exit 1; }
	sleep 0.1
done
curl -fsS -D "$work/real.h" -o "$work/real.b" -H "X-Auth: $TOKEN" "http://$REAL/apps"
curl -fsS -D "$work/bare.h" -o "$work/bare.b" -H "X-Auth: $TOKEN" "http://$BARE/apps"
cmp -s "$work/real.b" "$work/bare.b" || { echo "run.sh: the two bodies differ" >&2; exit 1; }
grep -iv '^\(date\|x-request-id\):' "$work/real.h" >"$work/real.h2"
grep -iv '^\(date\|x-request-id\):' "$work/bare.h" >"$work/bare.h2"
cmp -s "$work/real.h2" "$work/bare.h2" || { echo "run.sh: the two headers differ:" >&2; diff "$work/real.h2" "$work/bare.h2" >&2; exit 1; }
echo "# GET /apps, $APPS apps, $(wc -c <"$work/real.b") bytes, identical body and headers (Date and X-Request-Id aside) from both; real API request log: $LOG"
echo "# wrk -t$THREADS -c$CONNS -d$DURATION --latency -H 'X-Auth: ...', $ROUNDS rounds, targets interleaved"
echo "round target requests/sec p50 p99"

# bench NAME ADDR: one bounded wrk run; prints "NAME rps p50 p99 [errors]".
bench() {
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "X-Auth: $TOKEN" "http://$2/apps")
	rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
	p50=$(echo "$out" | awk '$1=="50%" {print $2}')
	p99=$(echo "$out" | awk '$1=="99%" {print $2}')
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
	echo "$1 $rps $p50 $p99 ${errs:-}"
}

: >"$work/results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for t in real:$REAL bare:$BARE; do
		line=$(bench "${t%%:*}" "${t#*:}")
		echo "$r $line"
		echo "$line" >>"$work/results"
		sleep 1
	done
	r=$((r + 1))
done
echo
echo "# means over rounds; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
awk '
	function us(v) {  # wrk latency (e.g. 812.00us, 1.20ms, 2.01s) in microseconds
		if (v ~ /us$/) return v + 0
		if (v ~ /ms$/) return v * 1000
		if (v ~ /s$/) return v * 1000000
		return v
	}
	{ rps[$1] += $2; p99[$1] += us($4); n[$1]++ }
	END {
		r = rps["real"]/n["real"]; b = rps["bare"]/n["bare"]
		printf "real %.0f req/s (p99 %.2f ms), bare %.0f req/s (p99 %.2f ms)\n", r, p99["real"]/n["real"]/1000, b, p99["bare"]/n["bare"]/1000
		printf "ratio real/bare = %.2f (goal >= 0.50: %s)\n", r/b, (r/b >= 0.5 ? "MET" : "MISSED")
	}' "$work/results"
