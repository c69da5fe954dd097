#!/bin/sh
# User-space instructions per proxied request of the router and of nginx,
# counted by valgrind's callgrind: a measure that other work on the machine
# does not move, unlike req/s and CPU time. Kernel work (the system calls
# and loopback TCP, about the same for both proxies) is not counted.
#
#   bench/router/instructions.sh        # needs valgrind, nginx, wrk in PATH
#   SECONDS_COUNTED=5 bench/router/instructions.sh
#
# Each proxy runs under callgrind with instrumentation off; wrk warms it
# up (-c8, 3s), then instrumentation is on for SECONDS_COUNTED seconds of
# wrk -c8, and the instructions counted are divided by wrk's requests.
# nginx runs one worker in the foreground (master_process off). Go's
# asynchronous preemption is off under valgrind (GODEBUG=asyncpreemptoff=1),
# whose signal handling it trips.
set -eu

COUNTED=${SECONDS_COUNTED:-5}
BACKEND=127.0.0.1:18091
ROUTER=127.0.0.1:18092
NGINX=127.0.0.1:18093
HOST=bench.example.com

cd "$(dirname "$0")/../.."
. bench/lib.sh
need instructions.sh "valgrind nginx wrk" go wrk nginx valgrind callgrind_control
start_work

go build -o "$work/router-bench" ./bench/router
"$work/router-bench" backend -addr $BACKEND &
pids="$pids $!"

NGINX_MAIN='worker_processes 1;
daemon off;
master_process off;'
nginx_conf "$NGINX"

# count NAME ADDR CMD...: prints "NAME requests instructions per-request".
count() {
	name=$1 addr=$2
	shift 2
	callgrind_count instructions.sh "$name" "http://$addr/" "Host: $HOST" 100 "$@"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
echo
echo "| proxy | requests counted | instructions | per request |"
echo "| --- | --- | --- | --- |"
: >"$work/results"
for t in router router-no-traffic nginx; do
	case $t in
	router) line=$(count router $ROUTER "$work/router-bench" router -addr $ROUTER -host $HOST -backend $BACKEND) ;;
	router-no-traffic) line=$(count router-no-traffic $ROUTER "$work/router-bench" router -addr $ROUTER -host $HOST -backend $BACKEND -no-traffic) ;;
	nginx) line=$(count nginx $NGINX nginx -c "$work/nginx.conf" -p "$work") ;;
	esac
	instructions_row "$line"
done
awk '{ per[$1] = $4 } END { printf "\nrouter / nginx user-space instructions per request: %.2f\ncounting the traffic / not counting it: %.3f\n", per["router"] / per["nginx"], per["router"] / per["router-no-traffic"] }' "$work/results"
