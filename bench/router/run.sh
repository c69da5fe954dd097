#!/bin/sh
# Router benchmarks: propagation latency of the routing table through Redis,
# and proxy throughput and latency of the router vs. a direct connection to
# the backend and vs. Debian's nginx proxying the same backend with keepalive
# upstream connections. Everything runs on loopback; each wrk run is bounded.
#
#   bench/router/run.sh                  # needs redis-server, nginx, wrk in PATH
#   DURATION=10s CONNS=64 ROUNDS=3 bench/router/run.sh
#   PROPAGATION=0 bench/router/run.sh    # proxy figures only
#   PLAIN=0 PROPAGATION=0 bench/router/run.sh   # HTTPS figures only
#   HTTPS=0 bench/router/run.sh          # no HTTPS figures
#
# HTTPS: the router (its TLS settings, router.ServerTLSConfig) and nginx
# (the same suites and curves) serve one self-signed ECDSA P-256
# certificate for localhost; wrk measures keep-alive throughput over TLS
# and, with "Connection: close" on every request, handshakes per second:
# full ones against a second router and nginx server that refuse session
# resumption, and resumed ones (wrk keeps each connection's TLS session
# and offers it again) against the first.
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
PLAIN=${PLAIN:-1}
HTTPS=${HTTPS:-1}
CHANGES=${CHANGES:-1000}
BACKEND=127.0.0.1:18081
ROUTER=127.0.0.1:18082
ROUTER_RP=127.0.0.1:18084
ROUTER_OFF=127.0.0.1:18090
NGINX=127.0.0.1:18083
ROUTER_TLS=127.0.0.1:18085
ROUTER_RP_TLS=127.0.0.1:18086
NGINX_TLS=127.0.0.1:18087
ROUTER_FULL=127.0.0.1:18088
NGINX_FULL=127.0.0.1:18089
HOST=bench.example.com

cd "$(dirname "$0")/../.."
. bench/lib.sh
need run.sh "nginx wrk redis-server" go wrk nginx redis-server
start_work

go build -o "$work/router-bench" ./bench/router

machine "$(nginx -v 2>&1); $(wrk -v 2>&1 | head -1); $(redis-server --version | cut -d' ' -f1-3)"
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
"$work/router-bench" router -addr $ROUTER_OFF -host $HOST -backend $BACKEND -no-traffic &
router_off_pid=$!
pids="$pids $!"
mkdir -p "$work/tls"
"$work/router-bench" cert -host localhost -out "$work/tls"
"$work/router-bench" router -addr $ROUTER_TLS -host $HOST -backend $BACKEND -tls-cert "$work/tls/cert.pem" -tls-key "$work/tls/key.pem" &
router_tls_pid=$!
pids="$pids $!"
"$work/router-bench" router -addr $ROUTER_RP_TLS -host $HOST -backend $BACKEND -tls-cert "$work/tls/cert.pem" -tls-key "$work/tls/key.pem" -reverseproxy-only &
router_rp_tls_pid=$!
pids="$pids $!"
"$work/router-bench" router -addr $ROUTER_FULL -host $HOST -backend $BACKEND -tls-cert "$work/tls/cert.pem" -tls-key "$work/tls/key.pem" -no-resume &
router_full_pid=$!
pids="$pids $!"
nginx_conf "$NGINX" "$NGINX_TLS ssl" "$NGINX_FULL ssl full"
pidfiles=$work/nginx.pid
nginx -c "$work/nginx.conf" -p "$work"
sleep 0.5
for a in $BACKEND $ROUTER $ROUTER_RP $ROUTER_OFF $NGINX; do
	curl -fsS -o /dev/null -H "Host: $HOST" "http://$a/" || { echo "run.sh: $a does not answer" >&2; exit 1; }
done
for a in $ROUTER_TLS $ROUTER_RP_TLS $NGINX_TLS $ROUTER_FULL $NGINX_FULL; do
	curl -fsS -o /dev/null --cacert "$work/tls/cert.pem" -H "Host: $HOST" "https://localhost:${a#*:}/" || { echo "run.sh: $a does not answer over HTTPS" >&2; exit 1; }
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

# row ROUND LOAD LINE FILE: prints a run (bench's LINE) as a table row and
# keeps it in FILE for the ratios.
row() {
	echo "$1 $3" | awk -v l="$2" '{ e = ""; for (i = 7; i <= NF; i++) e = e " " $i; printf "| %s | %s | %.0f | %s | %s | %s | %s%s |\n", $1, $2, $3, $4, $5, $6, l, e }'
	echo "$1 $3" >>"$4"
}

# MEANS is the start of the awk program that reads a results FILE: m[target]
# and c[target] are the mean req/s and CPU per request over the rounds, and
# per(a, b, cost) lists a's ratio to b in each round (of CPU when cost).
MEANS='
	{ rps[$2] += $3; cpu[$2] += $6; n[$2]++; r = $1; if (r > rounds) rounds = r; R[r, $2] = $3; C[r, $2] = $6 }
	function per(a, b, cost,   s, i) {
		s = ""
		for (i = 1; i <= rounds; i++) {
			if (cost) s = s sprintf("%s%.2f", i > 1 ? ", " : "", C[i, a] / C[i, b])
			else s = s sprintf("%s%.2f", i > 1 ? ", " : "", R[i, a] / R[i, b])
		}
		return s
	}
	END { for (k in n) { m[k] = rps[k] / n[k]; c[k] = cpu[k] / n[k] } }
'

# bench NAME ADDR PID...: one bounded wrk run; prints
# "NAME rps p50 p99 cpu-us-per-request" (CPU of the PIDs, the proxy).
# ADDR is host:port for plain HTTP, or a whole URL. With CLOSE=1 every
# request asks for "Connection: close" (the space matters to wrk).
bench() {
	name=$1 url=$2
	shift 2
	case $url in *://*) ;; *) url="http://$url/" ;; esac
	before=$(ticks "$@")
	if [ "${CLOSE:-0}" = 1 ]; then
		out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Host: $HOST" -H "Connection: close" "$url")
	else
		out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Host: $HOST" "$url")
	fi
	after=$(ticks "$@")
	wrk_figures "$out"
	cpu=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$reqs" 'BEGIN { if (t == 0) print "-"; else printf "%.1f", t / hz * 1e6 / n }')
	echo "$name $rps $p50 $p99 $cpu ${errs:-}"
}

# target NAME: one bench run of the target NAME (see the tables' notes).
target() {
	case $1 in
	direct) bench $1 $BACKEND $backend_pid ;;
	router) bench $1 $ROUTER $router_pid ;;
	router-off) bench $1 $ROUTER_OFF $router_off_pid ;;
	nginx) bench $1 $NGINX $nginx_pids ;;
	router-rp) bench $1 $ROUTER_RP $router_rp_pid ;;
	router-tls) bench $1 "$(tls_url $ROUTER_TLS)" $router_tls_pid ;;
	nginx-tls) bench $1 "$(tls_url $NGINX_TLS)" $nginx_pids ;;
	router-rp-tls) bench $1 "$(tls_url $ROUTER_RP_TLS)" $router_rp_tls_pid ;;
	router-hs) CLOSE=1 bench $1 "$(tls_url $ROUTER_FULL)" $router_full_pid ;;
	nginx-hs) CLOSE=1 bench $1 "$(tls_url $NGINX_FULL)" $nginx_pids ;;
	router-resume) CLOSE=1 bench $1 "$(tls_url $ROUTER_TLS)" $router_tls_pid ;;
	nginx-resume) CLOSE=1 bench $1 "$(tls_url $NGINX_TLS)" $nginx_pids ;;
	esac
}
tls_url() { echo "https://localhost:${1#*:}/"; }

# rounds FILE TARGET...: $ROUNDS rounds of a run of every TARGET, printed
# as a table and kept in FILE; then the load average at the end and the
# head of the table of ratios.
rounds() {
	file=$1
	shift
	echo "| round | target | req/s | p50 | p99 | cpu-µs/req | load |"
	echo "| --- | --- | --- | --- | --- | --- | --- |"
	: >"$file"
	r=1
	while [ $r -le "$ROUNDS" ]; do
		load=$(cut -d' ' -f1 /proc/loadavg)
		for t in "$@"; do
			line=$(target "$t")
			row "$r" "$load" "$line" "$file"
			sleep 1
		done
		r=$((r + 1))
	done
	echo
	echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| ratio | mean | per round |"
	echo "| --- | --- | --- |"
}

if [ "$PLAIN" != 0 ]; then
echo "# proxy: wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, targets interleaved; 128-byte answers"
echo "(router-rp: the same router with its fast path off, all through httputil.ReverseProxy)"
echo "(router-off: the same router with its traffic counting off, -no-traffic; router counts)"
echo "(cpu-µs/req: CPU time, user + system, the proxy process(es) spent per request; direct: the backend's)"
echo "(load: the 1-minute load average when the round started)"
echo
rounds "$work/results" direct router nginx router-rp router-off
awk "$MEANS"'
	END {
		printf "| router / nginx throughput (goal ≥ 1.0) | **%.2f** | %s |\n", m["router"] / m["nginx"], per("router", "nginx", 0)
		printf "| router / nginx CPU per request (goal ≤ 1.0) | **%.2f** (%.1f µs vs %.1f µs) | %s |\n", c["router"] / c["nginx"], c["router"], c["nginx"], per("router", "nginx", 1)
		printf "| router / direct throughput | %.2f (nginx / direct: %.2f) | %s |\n", m["router"] / m["direct"], m["nginx"] / m["direct"], per("router", "direct", 0)
		printf "| router / router-rp throughput | %.2f | %s |\n", m["router"] / m["router-rp"], per("router", "router-rp", 0)
		printf "| counting on / off throughput (goal within 5%%) | **%.3f** | %s |\n", m["router"] / m["router-off"], per("router", "router-off", 0)
		printf "| counting on / off CPU per request (goal within 5%%) | **%.3f** (%.1f µs vs %.1f µs) | %s |\n", c["router"] / c["router-off"], c["router"], c["router-off"], per("router", "router-off", 1)
		printf "\nMeans: direct %.0f req/s (%.1f µs), router %.0f (%.1f µs), nginx %.0f (%.1f µs), router-rp %.0f (%.1f µs).\n", m["direct"], c["direct"], m["router"], c["router"], m["nginx"], c["nginx"], m["router-rp"], c["router-rp"]
	}' "$work/results"
echo
fi

# --- HTTPS -----------------------------------------------------------------
[ "$HTTPS" = 0 ] && exit 0
echo "# HTTPS: wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, targets interleaved; 128-byte answers"
echo "(one self-signed ECDSA P-256 certificate for both; TLS 1.3 as wrk's OpenSSL negotiates it)"
echo "(*-tls: keep-alive; *-hs and *-resume: Connection: close on every request, so req/s = handshakes/s;"
echo " *-hs against servers refusing resumption: full handshakes; *-resume: wrk resumes its TLS sessions)"
echo "(router-rp-tls: net/http's server over TLS and httputil.ReverseProxy, the router's fast loop off)"
echo "(cpu-µs/req: CPU time, user + system, the proxy process(es) spent per request, handshake included for -hs)"
echo
rounds "$work/results-tls" router-tls nginx-tls router-rp-tls router-hs nginx-hs router-resume nginx-resume
awk "$MEANS"'
	END {
		printf "| router / nginx HTTPS keep-alive throughput (goal ≥ 0.7) | **%.2f** | %s |\n", m["router-tls"] / m["nginx-tls"], per("router-tls", "nginx-tls", 0)
		printf "| router / nginx HTTPS CPU per request | **%.2f** (%.1f µs vs %.1f µs) | %s |\n", c["router-tls"] / c["nginx-tls"], c["router-tls"], c["nginx-tls"], per("router-tls", "nginx-tls", 1)
		printf "| router / nginx full handshakes per second | **%.2f** (%.0f/s vs %.0f/s) | %s |\n", m["router-hs"] / m["nginx-hs"], m["router-hs"], m["nginx-hs"], per("router-hs", "nginx-hs", 0)
		printf "| router / nginx CPU per handshake | **%.2f** (%.0f µs vs %.0f µs) | %s |\n", c["router-hs"] / c["nginx-hs"], c["router-hs"], c["nginx-hs"], per("router-hs", "nginx-hs", 1)
		printf "| router / nginx resumed handshakes per second | %.2f (%.0f/s vs %.0f/s) | %s |\n", m["router-resume"] / m["nginx-resume"], m["router-resume"], m["nginx-resume"], per("router-resume", "nginx-resume", 0)
		printf "| router / router-rp-tls keep-alive throughput | %.2f | %s |\n", m["router-tls"] / m["router-rp-tls"], per("router-tls", "router-rp-tls", 0)
	}' "$work/results-tls"
