#!/bin/sh
# User-space instructions per GET /apps (100 apps) of the real API handler
# and of the bare net/http handler writing the same bytes (api-bench, as
# run.sh serves them), counted by valgrind's callgrind: a measure that other
# work on the machine does not move, unlike req/s and CPU time. Kernel work
# (the system calls and loopback TCP, the same for both) is not counted.
#
#   bench/api/instructions.sh            # needs valgrind, wrk, curl in PATH
#   SECONDS_COUNTED=5 LOG=stderr METRICS=0 KEEP=/tmp/cg bench/api/instructions.sh
#
# api-bench runs under callgrind with instrumentation off, once per target;
# wrk warms it up (-c8, 3s), then instrumentation is on for SECONDS_COUNTED
# seconds of wrk -c8, and the instructions counted are divided by wrk's
# requests. Go's asynchronous preemption is off under valgrind
# (GODEBUG=asyncpreemptoff=1), whose signal handling it trips. KEEP=DIR
# keeps the callgrind files in DIR, for callgrind_annotate --inclusive=yes.
#
# Valgrind's CPU has no SHA extensions, so the token's SHA-256 runs Go's
# AVX2 code there: about 15,000 instructions per request, where the
# machine's SHA-NI takes about 100 ns. Count the real handler's excess
# without tokenRole when comparing with run.sh's figures.
set -eu

COUNTED=${SECONDS_COUNTED:-5}

cd "$(dirname "$0")/../.."
. bench/lib.sh
. bench/api/settings.sh
need instructions.sh "valgrind wrk curl" go wrk curl valgrind callgrind_control
start_work

go build -o "$work/api-bench" ./bench/api

# count NAME ADDR: prints "NAME requests instructions per-request".
count() {
	callgrind_count instructions.sh "$1" "http://$2/apps" "X-Auth: $TOKEN" 300 \
		"$work/api-bench" -real $REAL -bare $BARE -token $TOKEN -log "$LOG" -metrics=$metrics
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs); real API: request log $LOG, metrics $metrics"
echo
echo "| handler | requests counted | instructions | per request |"
echo "| --- | --- | --- | --- |"
: >"$work/results"
for t in bare:$BARE real:$REAL; do
	line=$(count "${t%%:*}" "${t#*:}")
	instructions_row "$line"
done
awk '{ per[$1] = $4 } END { printf "\nreal / bare user-space instructions per request: %.3f (%d more per request)\n", per["real"] / per["bare"], per["real"] - per["bare"] }' "$work/results"
