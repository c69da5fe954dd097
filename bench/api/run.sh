#!/bin/sh
# API throughput against the limit of the HTTP stack: GET /apps with 100
# apps from the real API handler (token, request id, request log, metrics,
# as serve wires it), and from a bare net/http handler that writes the same
# bytes and headers, both in one Go program (api-bench), both loaded by the
# same wrk with the same X-Auth header, in interleaved rounds (bare, real,
# bare, real, ...). Prints each round's two figures and their ratio
# real/bare, then the medians (goal: median ratio >= 0.9). Beside them,
# the CPU time api-bench spent per request while each target was loaded
# (user + system, from /proc): a figure other processes on the machine move
# much less than the throughput, to judge a change on a busy machine.
#
#   bench/api/run.sh                       # needs wrk (apt-get install wrk)
#   DURATION=10s CONNS=32 ROUNDS=3 APPS=100 bench/api/run.sh
#   LOG=stderr bench/api/run.sh            # the real API logging every request, as serve does
#   METRICS=0 bench/api/run.sh             # the real API without its Prometheus observer
set -eu

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
APPS=${APPS:-100}

cd "$(dirname "$0")/../.."
. bench/lib.sh
. bench/api/settings.sh
need run.sh "wrk curl" go wrk curl
start_work

go build -o "$work/api-bench" ./bench/api

load() { cut -d' ' -f1-3 /proc/loadavg; }
machine "$(wrk -v 2>&1 | head -1); load average before: $(load)"
echo

"$work/api-bench" -real $REAL -bare $BARE -apps "$APPS" -token $TOKEN -log "$LOG" -metrics=$metrics 2>"$work/api.log" &
pid=$!
pids=$pid
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
echo "# GET /apps, $APPS apps, $(wc -c <"$work/real.b") bytes, identical body and headers (Date and X-Request-Id aside) from both"
echo "# real API: request log $LOG, metrics $metrics"
echo "# wrk -t$THREADS -c$CONNS -d$DURATION --latency -H 'X-Auth: ...', $ROUNDS rounds, bare then real in each"
echo "round target requests/sec p50 p99 cpu-us/req load-average-before"

tck=$(getconf CLK_TCK)
cputicks() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # api-bench's user + system time

# bench NAME ADDR: one bounded wrk run; prints "NAME rps p50 p99 cpu-us/req load [errors]".
bench() {
	before=$(load | tr ' ' '/')
	t0=$(cputicks)
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "X-Auth: $TOKEN" "http://$2/apps")
	t1=$(cputicks)
	wrk_figures "$out"
	cpu=$(awk -v t="$((t1 - t0))" -v hz="$tck" -v n="$reqs" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
	echo "$1 $rps $p50 $p99 $cpu $before ${errs:-}"
}

: >"$work/results"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for t in bare:$BARE real:$REAL; do
		line=$(bench "${t%%:*}" "${t#*:}")
		echo "$r $line"
		echo "$r $line" >>"$work/results"
		sleep 1
	done
	r=$((r + 1))
done
echo
echo "# per round and medians; load average after: $(load)"
awk '
	function median(a, n,    i, j, t) {  # sorts a[1..n] in place
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	{ rps[$1, $2] = $3; cpu[$1, $2] = $6; if ($1 > rounds) rounds = $1 }
	END {
		print "round bare-req/s real-req/s ratio bare-cpu-us/req real-cpu-us/req cpu-ratio"
		for (r = 1; r <= rounds; r++) {
			b[r] = rps[r, "bare"]; x[r] = rps[r, "real"]; q[r] = x[r] / b[r]
			cb[r] = cpu[r, "bare"]; cx[r] = cpu[r, "real"]; cq[r] = cx[r] / cb[r]
			printf "%d %.0f %.0f %.3f %.1f %.1f %.3f\n", r, b[r], x[r], q[r], cb[r], cx[r], cq[r]
		}
		mb = median(b, rounds); mx = median(x, rounds); mq = median(q, rounds)
		printf "median bare %.0f req/s, real %.0f req/s, ratio real/bare %.3f (goal >= 0.90: %s)\n", mb, mx, mq, (mq >= 0.9 ? "MET" : "MISSED")
		printf "median CPU per request: bare %.1f us, real %.1f us, real/bare %.3f\n", median(cb, rounds), median(cx, rounds), median(cq, rounds)
	}' "$work/results"
