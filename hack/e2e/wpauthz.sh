#!/usr/bin/env bash
# Starts or stops the e2e stack's wpauthz alone (the tests stop it to show
# that nginx then fails closed, and start it again).
#
#   hack/e2e/wpauthz.sh start DIR   # no-op when it is running; waits for /readyz
#   hack/e2e/wpauthz.sh stop DIR    # TERM, then KILL; no-op when stopped
#
# DIR is a stack made by hack/e2e/up.sh (its ports are in DIR/ports.env).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cmd=${1:-}
[ $# -eq 2 ] || die "usage: $0 start|stop DIR"
[ -d "$2" ] || die "$2: no such directory"
DIR=$(cd "$2" && pwd)
[ -f "$DIR/ports.env" ] || die "$DIR/ports.env missing: not a stack made by hack/e2e/up.sh"
# shellcheck disable=SC1091
. "$DIR/ports.env"
PIDFILE=$DIR/wpauthz/wpauthz.pid
LOGFILE=$DIR/wpauthz/wpauthz.log

start() {
	if pid_alive "$PIDFILE"; then
		log "wpauthz already running ($(cat "$PIDFILE"))"
		return 0
	fi
	local args=(serve --config-dir "$DIR/wpauthz/config"
		--http-addr "127.0.0.1:$WPAUTHZ_HTTP_PORT" --grpc-addr "127.0.0.1:$WPAUTHZ_GRPC_PORT"
		--identity-key "$DIR/wpauthz/identity.pem" --log-format text --log-level debug
		--internal-addr "127.0.0.1:$WPAUTHZ_INTERNAL_PORT"
		--trusted-proxy-hops 1)
	printf '\n----- %s: wpauthz %s\n' "$(date -u +%FT%TZ)" "${args[*]}" >>"$LOGFILE"
	nohup "$WPAUTHZ_BIN" "${args[@]}" >>"$LOGFILE" 2>&1 </dev/null &
	echo $! >"$PIDFILE"
	local i pid=$!
	for ((i = 0; i < 300; i++)); do
		if [ "$(http_status "$WPAUTHZ_HTTP_PORT" /readyz)" = 200 ]; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 40 "$LOGFILE" >&2
			die "wpauthz exited at start (log: $LOGFILE)"
		fi
		sleep 0.1
	done
	tail -n 40 "$LOGFILE" >&2
	die "wpauthz not ready on 127.0.0.1:$WPAUTHZ_HTTP_PORT/readyz after 30s (log: $LOGFILE)"
}

case $cmd in
start) start ;;
stop) stop_pidfile wpauthz "$PIDFILE" 20 ;;
*) die "usage: $0 start|stop DIR" ;;
esac
