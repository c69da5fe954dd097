#!/bin/sh
# Router benchmarks: propagation latency of the routing table through Redis,
# and proxy throughput and latency of the router vs. a direct connection to
# the backend and vs. Debian's nginx proxying the same backend with keepalive
# upstream connections. Everything runs on loopback; each wrk run is bounded.
#
#   bench/router/run.sh                  # needs redis-server, nginx, wrk in PATH
#   DURATION=10s CONNS=64 ROUNDS=3 bench/router/run.sh
#   PROPAGATION=0 bench/router/run.sh    # proxy figures only
#
# It prints the machine, the load average (1, 5, 15 min) before every
# round and at the end, every run as a Markdown table row, the ratios per
# round and over all rounds, ready to paste into BENCHMARKS.md. Other work
# on the machine shifts the absolute figures; the ratios are measured side
# by side, the targets interleaved.
#
# Redis: uses $REDIS (host:port) when set, else starts a private
# redis-server on port 16399 for the run.
set -eu

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
PROPAGATION=${PROPAGATION:-1}
CHANGES=${CHANGES:-1000}
BACKEND=127.0.0.1:18081
ROUTER=127.0.0.1:18082
ROUTER_RP=127.0.0.1:18084
NGINX=127.0.0.1:18083
HOST=bench.example.com

for cmd in go wrk nginx redis-server; do
	command -v $cmd >/dev/null || { echo "run.sh: $cmd not found (apt-get install nginx wrk redis-server)" >&2; exit 1; }
done

cd "$(dirname "$0")/../.."
work=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
	sleep 0.2
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

go build -o "$work/router-bench" ./bench/router

echo "# machine"
echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "$(go version); $(nginx -v 2>&1); $(wrk -v 2>&1 | head -1); $(redis-server --version | cut -d' ' -f1-3)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
echo

# --- propagation ---------------------------------------------------------
redis=${REDIS:-}
[ "$PROPAGATION" = 0 ] && redis=skip
if [ -z "$redis" ]; then
	redis-server --port 16399 --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --logfile "$work/redis.log" &
	pids="$pids $!"
	redis=127.0.0.1:16399
	sleep 0.5
fi
if [ "$PROPAGATION" != 0 ]; then
	echo "# propagation: Changed() -> subscriber apply, through redis-server on loopback"
	"$work/router-bench" propagation -redis "$redis" -n "$CHANGES" -spacing 10ms
	"$work/router-bench" propagation -redis "$redis" -n "$CHANGES" -spacing 0
	echo
fi

# --- proxy throughput ----------------------------------------------------
"$work/router-bench" backend -addr $BACKEND &
backend_pid=$!
pids="$pids $!"
"$work/router-bench" router -addr $ROUTER -host $HOST -backend $BACKEND &
router_pid=$!
pids="$pids $!"
"$work/router-bench" router -addr $ROUTER_RP -host $HOST -backend $BACKEND -reverseproxy-only &
router_rp_pid=$!
pids="$pids $!"
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $work/nginx;
	proxy_temp_path $work/nginx;
	fastcgi_temp_path $work/nginx;
	uwsgi_temp_path $work/nginx;
	scgi_temp_path $work/nginx;
	upstream app { server $BACKEND; keepalive 256; }
	server {
		listen $NGINX;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Proto \$scheme;
			proxy_set_header X-Forwarded-Host \$http_host;
		}
	}
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.5
for a in $BACKEND $ROUTER $ROUTER_RP $NGINX; do
	curl -fsS -o /dev/null -H "Host: $HOST" "http://$a/" || { echo "run.sh: $a does not answer" >&2; exit 1; }
done

nginx_pids="$(cat "$work/nginx.pid") $(pgrep -P "$(cat "$work/nginx.pid")" | tr '\n' ' ')"
hz=$(getconf CLK_TCK)

# ticks PID...: CPU time (user+system, in clock ticks) used so far.
ticks() {
	t=0
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo $t
}

# bench NAME ADDR PID...: one bounded wrk run; prints
# "NAME rps p50 p99 cpu-us-per-request" (CPU of the PIDs, the proxy).
bench() {
	name=$1 addr=$2
	shift 2
	before=$(ticks "$@")
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Host: $HOST" "http://$addr/")
	after=$(ticks "$@")
	rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	p50=$(echo "$out" | awk '$1=="50%" {print $2}')
	p99=$(echo "$out" | awk '$1=="99%" {print $2}')
	cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$reqs" 'BEGIN { if (t == 0) print "-"; else printf "%.1f", t / hz * 1e6 / n }')
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
	echo "$name $rps $p50 $p99 $cpu ${errs:-}"
}

echo "# proxy: wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, targets interleaved; 128-byte answers"
echo "(router-rp: the same router with its fast path off, all through httputil.ReverseProxy)"
echo "(cpu-µs/req: CPU time, user + system, the proxy process(es) spent per request; direct: the backend's)"
echo "(load: the 1-minute load average when the round started)"
echo
echo "| round | target | req/s | p50 | p99 | cpu-µs/req | load |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
: >"$work/results"
r=1
while [ $r -le "$ROUNDS" ]; do
	load=$(cut -d' ' -f1 /proc/loadavg)
	for t in direct router nginx router-rp; do
		case $t in
		direct) line=$(bench direct $BACKEND $backend_pid) ;;
		router) line=$(bench router $ROUTER $router_pid) ;;
		nginx) line=$(bench nginx $NGINX $nginx_pids) ;;
		router-rp) line=$(bench router-rp $ROUTER_RP $router_rp_pid) ;;
		esac
		echo "$r $line" | awk -v l="$load" '{ e = ""; for (i = 7; i <= NF; i++) e = e " " $i; printf "| %s | %s | %.0f | %s | %s | %s | %s%s |\n", $1, $2, $3, $4, $5, $6, l, e }'
		echo "$r $line" >>"$work/results"
		sleep 1
	done
	r=$((r + 1))
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| ratio | mean | per round |"
echo "| --- | --- | --- |"
awk '
	{ rps[$2] += $3; cpu[$2] += $6; n[$2]++; r = $1; if (r > rounds) rounds = r; R[r, $2] = $3; C[r, $2] = $6 }
	function per(a, b, cost,   s, i) {
		s = ""
		for (i = 1; i <= rounds; i++) {
			if (cost) s = s sprintf("%s%.2f", i > 1 ? ", " : "", C[i, a] / C[i, b])
			else s = s sprintf("%s%.2f", i > 1 ? ", " : "", R[i, a] / R[i, b])
		}
		return s
	}
	END {
		for (k in n) { m[k] = rps[k] / n[k]; c[k] = cpu[k] / n[k] }
		printf "| router / nginx throughput (goal ≥ 1.0) | **%.2f** | %s |\n", m["router"] / m["nginx"], per("router", "nginx", 0)
		printf "| router / nginx CPU per request (goal ≤ 1.0) | **%.2f** (%.1f µs vs %.1f µs) | %s |\n", c["router"] / c["nginx"], c["router"], c["nginx"], per("router", "nginx", 1)
		printf "| router / direct throughput | %.2f (nginx / direct: %.2f) | %s |\n", m["router"] / m["direct"], m["nginx"] / m["direct"], per("router", "direct", 0)
		printf "| router / router-rp throughput | %.2f | %s |\n", m["router"] / m["router-rp"], per("router", "router-rp", 0)
		printf "\nMeans: direct %.0f req/s (%.1f µs), router %.0f (%.1f µs), nginx %.0f (%.1f µs), router-rp %.0f (%.1f µs).\n", m["direct"], c["direct"], m["router"], c["router"], m["nginx"], c["nginx"], m["router-rp"], c["router-rp"]
	}' "$work/results"
