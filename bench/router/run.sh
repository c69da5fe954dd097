#!/bin/sh
# Router benchmarks: propagation latency of the routing table through Redis,
# and proxy throughput and latency of the router vs. a direct connection to
# the backend and vs. Debian's nginx proxying the same backend with keepalive
# upstream connections. Everything runs on loopback; each wrk run is bounded.
#
#   bench/router/run.sh                  # needs redis-server, nginx, wrk in PATH
#   DURATION=10s CONNS=64 ROUNDS=2 bench/router/run.sh
#
# Redis: uses $REDIS (host:port) when set, else starts a private
# redis-server on port 16399 for the run.
set -eu

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
CHANGES=${CHANGES:-1000}
BACKEND=127.0.0.1:18081
ROUTER=127.0.0.1:18082
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
echo

# --- propagation ---------------------------------------------------------
redis=${REDIS:-}
if [ -z "$redis" ]; then
	redis-server --port 16399 --bind 127.0.0.1 --save '' --appendonly no --dir "$work" --logfile "$work/redis.log" &
	pids="$pids $!"
	redis=127.0.0.1:16399
	sleep 0.5
fi
echo "# propagation: Changed() -> subscriber apply, through redis-server on loopback"
"$work/router-bench" propagation -redis "$redis" -n "$CHANGES" -spacing 10ms
"$work/router-bench" propagation -redis "$redis" -n "$CHANGES" -spacing 0
echo

# --- proxy throughput ----------------------------------------------------
"$work/router-bench" backend -addr $BACKEND &
pids="$pids $!"
"$work/router-bench" router -addr $ROUTER -host $HOST -backend $BACKEND &
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
for a in $BACKEND $ROUTER $NGINX; do
	curl -fsS -o /dev/null -H "Host: $HOST" "http://$a/" || { echo "run.sh: $a does not answer" >&2; exit 1; }
done

# bench NAME ADDR: one bounded wrk run; prints "NAME rps p50 p99".
bench() {
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Host: $HOST" "http://$2/")
	rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
	p50=$(echo "$out" | awk '$1=="50%" {print $2}')
	p99=$(echo "$out" | awk '$1=="99%" {print $2}')
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
	echo "$1 $rps $p50 $p99 ${errs:-}"
}

echo "# proxy: wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, targets interleaved; 128-byte answers"
echo "round target requests/sec p50 p99"
: >"$work/results"
r=1
while [ $r -le "$ROUNDS" ]; do
	for t in direct:$BACKEND router:$ROUTER nginx:$NGINX; do
		line=$(bench "${t%%:*}" "${t#*:}")
		echo "$r $line"
		echo "$line" >>"$work/results"
		sleep 1
	done
	r=$((r + 1))
done
echo
echo "# means over rounds, and ratios"
awk '
	{ rps[$1] += $2; n[$1]++ }
	END {
		d = rps["direct"]/n["direct"]; ro = rps["router"]/n["router"]; ng = rps["nginx"]/n["nginx"]
		printf "direct %.0f req/s, router %.0f req/s, nginx %.0f req/s\n", d, ro, ng
		printf "router/nginx = %.2f   router/direct = %.2f   nginx/direct = %.2f\n", ro/ng, ro/d, ng/d
	}' "$work/results"
