# Shared helpers for hack/e2e/{up,down,wpauthz}.sh. Sourced, not run.
# shellcheck shell=bash

E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO=$(cd "$E2E_HERE/../.." && pwd)

log() { printf 'e2e: %s\n' "$*" >&2; }
die() { printf 'e2e: error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# find_bin NAME... prints the first of NAME found in PATH or the sbin dirs.
find_bin() {
	local n d
	for n in "$@"; do
		if command -v "$n" >/dev/null 2>&1; then command -v "$n"; return 0; fi
		for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
			if [ -x "$d/$n" ]; then echo "$d/$n"; return 0; fi
		done
	done
	return 1
}

# find_php_fpm prints Debian's php-fpmX.Y (or $PHP_FPM).
find_php_fpm() {
	if [ -n "${PHP_FPM:-}" ]; then echo "$PHP_FPM"; return 0; fi
	local f
	for f in /usr/sbin/php-fpm[0-9]*; do
		if [ -x "$f" ]; then echo "$f"; return 0; fi
	done
	find_bin php-fpm
}

# pid_alive PIDFILE: true when the file names a live process whose command
# line mentions $DIR (so a recycled pid is never taken for ours).
pid_alive() {
	local f=$1 pid
	[ -s "$f" ] || return 1
	pid=$(tr -dc '0-9' <"$f")
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$DIR"
}

# stop_pidfile NAME PIDFILE [GRACE_SECONDS]: TERM, wait, then KILL.
stop_pidfile() {
	local name=$1 f=$2 grace=${3:-15} pid i
	if ! pid_alive "$f"; then rm -f "$f"; return 0; fi
	pid=$(tr -dc '0-9' <"$f")
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$f"; log "stopped $name ($pid)"; return 0; }
		sleep 0.1
	done
	log "$name ($pid) ignored TERM for ${grace}s: KILL"
	kill -KILL "$pid" 2>/dev/null || true
	# Children of a killed master (php-fpm, nginx workers) go with it, or are
	# re-parented and exit when their listening socket's master is gone.
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$f"
}

# http_get PORT TARGET [HOST]: a raw HTTP/1.0 GET on 127.0.0.1:PORT, whole
# response (status line, headers, body) on stdout. No curl needed.
http_get() {
	timeout 10 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n" "$1" "$2" >&3
		cat <&3' "$1" "$2" "${3:-127.0.0.1}" 2>/dev/null
}

# http_status PORT TARGET [HOST]: the status code, or nothing.
http_status() {
	http_get "$@" | head -n1 | awk '{print $2}' | tr -d '\r'
}

# wait_for WHAT SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_for() {
	local what=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	log "timed out after ${secs}s waiting for $what"
	return 1
}

# free_ports N: N distinct free loopback ports below the ephemeral range
# (as test/freeport does: outgoing connections never take them).
free_ports() {
	php -r '
		$n = (int) $argv[1]; $got = array();
		for ($try = 0; count($got) < $n && $try < 1000; $try++) {
			$p = random_int(20000, 31999);
			if (in_array($p, $got, true)) continue;
			$s = @stream_socket_server("tcp://127.0.0.1:$p", $errno, $errstr);
			if ($s) { fclose($s); $got[] = $p; }
		}
		if (count($got) < $n) exit(1);
		echo implode(" ", $got), "\n";' "$1"
}

# log_tails: the end of every log under $DIR, for a failed start.
log_tails() {
	local f
	for f in "$DIR"/mysql/error.log "$DIR"/wp-setup.log "$DIR"/php-fpm/error.log "$DIR"/php-fpm/php-error.log \
		"$DIR"/wp/wp-content/debug.log "$DIR"/nginx/logs/error.log "$DIR"/wpauthz/wpauthz.log; do
		[ -s "$f" ] || continue
		printf '\n===== %s (last 40 lines) =====\n' "$f" >&2
		tail -n 40 "$f" >&2
	done
}
