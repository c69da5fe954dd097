# api-bench's addresses, token and settings, one for run.sh and
# instructions.sh (each sources this file from the repository's root):
# LOG is where the real API logs every request (discard, stderr), and
# METRICS=0 runs it without its Prometheus observer.
LOG=${LOG:-discard}
METRICS=${METRICS:-1}
REAL=127.0.0.1:18091
BARE=127.0.0.1:18092
TOKEN=bench-token

case $METRICS in 0 | false) metrics=false ;; *) metrics=true ;; esac
