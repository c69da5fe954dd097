# Shell functions the bench scripts share; each script sources this file
# (". bench/lib.sh" from the repository's root) after `set -eu`.

# need SCRIPT PACKAGES CMD...: exits with a message naming SCRIPT and the
# Debian PACKAGES to install when a CMD is not in PATH.
need() {
	script=$1 packages=$2
	shift 2
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null || { echo "$script: $cmd not found (apt-get install $packages)" >&2; exit 1; }
	done
}

# start_work: makes the run's temporary directory $work and, on exit, kills
# the processes in $pids and those whose pid files $pidfiles names (a
# daemon's, read at exit), and removes it.
start_work() {
	work=$(mktemp -d)
	pids=""
	pidfiles=""
	trap cleanup EXIT INT TERM
}
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for f in $pidfiles; do
		[ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
	done
	sleep 0.5
	rm -rf "$work"
}

# machine EXTRA: prints the CPUs, then the Go version and EXTRA (the other
# tools' versions) on one line.
machine() {
	echo "# machine"
	echo "$(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "$(go version); $1"
}

# nginx_conf LISTEN...: writes $work/nginx.conf, nginx proxying to $BACKEND
# (keepalive upstream connections) with one server per LISTEN, the words
# of an nginx listen directive ("127.0.0.1:80", "127.0.0.1:443 ssl").
# Servers over TLS serve $work/tls/cert.pem; with the word "full" after
# "ssl" they refuse session resumption. NGINX_MAIN is the config's first
# lines (worker_processes auto by default).
nginx_conf() {
	mkdir -p "$work/nginx"
	{
		echo "${NGINX_MAIN:-worker_processes auto;}"
		cat <<NGINX
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
NGINX
		for listen in "$@"; do
			echo "	server {"
			echo "		listen ${listen% full};"
			if [ "${listen% full}" != "$listen" ]; then
				echo "		# No resumption: every handshake a full one."
				echo "		ssl_session_tickets off;"
				echo "		ssl_session_cache off;"
			fi
			case $listen in
			*" ssl"*)
				cat <<NGINX
		ssl_certificate $work/tls/cert.pem;
		ssl_certificate_key $work/tls/key.pem;
		ssl_protocols TLSv1.2 TLSv1.3;
		ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
		ssl_ecdh_curve X25519:prime256v1;
		# The router has no cap on requests per connection; nginx's
		# default (1000) would mix handshakes into the keep-alive figure.
		keepalive_requests 1000000;
NGINX
				;;
			esac
			cat <<NGINX
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
NGINX
		done
		echo "}"
	} >"$work/nginx.conf"
}

# wrk_figures OUT: sets rps, reqs, p50, p99 and errs (the Non-2xx and
# socket error lines, or nothing) from wrk --latency's output OUT.
wrk_figures() {
	rps=$(echo "$1" | awk '/^Requests\/sec:/ {print $2}')
	reqs=$(echo "$1" | awk '/requests in/ {print $1}')
	p50=$(echo "$1" | awk '$1=="50%" {print $2}')
	p99=$(echo "$1" | awk '$1=="99%" {print $2}')
	errs=$(echo "$1" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
}

# callgrind_count SCRIPT NAME URL HEADER TRIES CMD...: runs CMD under
# callgrind with instrumentation off until URL answers (TRIES times 0.2 s
# at the most), warms it up with wrk (-c8, 3 s), counts the instructions
# of $COUNTED seconds of wrk -c8, and prints "NAME requests instructions
# per-request". HEADER is sent with every request; KEEP=DIR keeps the
# callgrind files in DIR. Go's asynchronous preemption is off
# (GODEBUG=asyncpreemptoff=1): valgrind's signal handling trips it.
callgrind_count() {
	script=$1 name=$2 url=$3 header=$4 tries=$5
	shift 5
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --instr-atstart=no \
		--callgrind-out-file="$work/$name.out" "$@" >"$work/$name.log" 2>&1 &
	vp=$!
	pids="$pids $vp"
	i=0
	until curl -fsS -o /dev/null -H "$header" "$url" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt "$tries" ] || { echo "$script: $name does not answer under valgrind (see $work/$name.log)" >&2; exit 1; }
		sleep 0.2
	done
	wrk -t1 -c8 -d3s -H "$header" "$url" >/dev/null
	callgrind_control -i on $vp >/dev/null 2>&1
	out=$(wrk -t1 -c8 -d"${COUNTED}s" -H "$header" "$url")
	callgrind_control -i off $vp >/dev/null 2>&1
	kill $vp
	wait $vp 2>/dev/null || true
	wrk_figures "$out"
	[ -z "${KEEP:-}" ] || cp "$work/$name.out"* "$KEEP/"
	ir=$(cat "$work/$name.out"* | awk '/^totals:/ {s += $2} END {print s}')
	echo "$name $reqs $ir $((ir / reqs))"
}

# instructions_row LINE: prints a line callgrind_count printed as a
# Markdown table row and keeps it in $work/results.
instructions_row() {
	echo "$1" | awk '{ printf "| %s | %d | %d | %d |\n", $1, $2, $3, $4 }'
	echo "$1" >>"$work/results"
}
