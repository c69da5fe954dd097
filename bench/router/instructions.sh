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

for cmd in go wrk nginx valgrind callgrind_control; do
	command -v $cmd >/dev/null || { echo "instructions.sh: $cmd not found (apt-get install valgrind nginx wrk)" >&2; exit 1; }
done

cd "$(dirname "$0")/../.."
work=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

go build -o "$work/router-bench" ./bench/router
"$work/router-bench" backend -addr $BACKEND &
pids="$pids $!"

mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
master_process off;
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

# count NAME ADDR CMD...: prints "NAME requests instructions per-request".
count() {
	name=$1 addr=$2
	shift 2
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --instr-atstart=no \
		--callgrind-out-file="$work/$name.out" "$@" >"$work/$name.log" 2>&1 &
	vp=$!
	pids="$pids $vp"
	i=0
	until curl -fsS -o /dev/null -H "Host: $HOST" "http://$addr/" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "instructions.sh: $name does not answer under valgrind (see $work/$name.log)" >&2; exit 1; }
		sleep 0.2
	done
	wrk -t1 -c8 -d3s -H "Host: $HOST" "http://$addr/" >/dev/null
	callgrind_control -i on $vp >/dev/null 2>&1
	out=$(wrk -t1 -c8 -d"${COUNTED}s" -H "Host: $HOST" "http://$addr/")
	callgrind_control -i off $vp >/dev/null 2>&1
	kill $vp
	wait $vp 2>/dev/null || true
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	ir=$(cat "$work/$name.out"* | awk '/^totals:/ {s += $2} END {print s}')
	echo "$name $reqs $ir $((ir / reqs))"
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
	echo "$line" | awk '{ printf "| %s | %d | %d | %d |\n", $1, $2, $3, $4 }'
	echo "$line" >>"$work/results"
done
awk '{ per[$1] = $4 } END { printf "\nrouter / nginx user-space instructions per request: %.2f\ncounting the traffic / not counting it: %.3f\n", per["router"] / per["nginx"], per["router"] / per["router-no-traffic"] }' "$work/results"
