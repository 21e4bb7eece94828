#!/usr/bin/env bash
# The end-to-end cost of wpauthz (make e2e-bench, docs/e2e.md): an
# authenticated GET /wp-json/wp/v2/posts, under wrk, on one e2e stack:
#
#   plain    PLAIN_URL: nginx -> php-fpm, WordPress without the bridge,
#            authenticated by core with an application password (Basic)
#   bearer   NGINX_URL: nginx auth_request -> wpauthz (a JWT) -> php-fpm with
#            the bridge verifying the identity assertion
#   basic    NGINX_URL: the same, wpauthz checking the application password
#
# Rounds are interleaved (the order alternates), so the machine's background
# load falls on every mode alike. Per run it reports requests/s and CPU time
# per request: the CPU time the stack's processes spent (utime + stime from
# /proc, nginx master and workers, php-fpm master and workers, wpauthz),
# divided by the requests wrk completed; MariaDB's share is shown apart. The
# client (wrk) is not counted. Medians over the rounds at the end.
#
# Usage: hack/e2e-bench.sh [DIR]
#   DIR: a running stack (hack/e2e/up.sh DIR) to reuse; without it a stack is
#   brought up in a temporary directory and stopped afterwards.
# Environment: ROUNDS (5), DURATION seconds per run (8), CONNECTIONS (4, the
# php-fpm pool size), WPAUTHZ_BIN (passed to up.sh), MODES ("plain bearer
# basic").
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/e2e/lib.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-4}
MODES=${MODES:-plain bearer basic}
WRK=$(find_bin wrk) || die "wrk not found (apt-get install wrk)"
command -v curl >/dev/null || die "curl not found"
command -v jq >/dev/null || die "jq not found"

own=0
if [ $# -ge 1 ] && [ -s "$1/stack.env" ]; then
	DIR=$(cd "$1" && pwd)
else
	DIR=${1:-$(mktemp -d /tmp/wpauthz-e2e-bench.XXXXXX)}
	"$HERE/e2e/up.sh" "$DIR" >&2
	own=1
	trap '"$HERE/e2e/down.sh" "$DIR" >/dev/null 2>&1 || true' EXIT
fi
# shellcheck disable=SC1091
. "$DIR/stack.env"
case " $MODES " in
*" plain "*) [ -n "${PLAIN_URL:-}" ] || die "$DIR/stack.env has no PLAIN_URL (stack from an older hack/e2e/up.sh)" ;;
esac
user() { jq -r ".users.editor.$1" "$DIR/stack.json"; }
LOGIN=$(user login)
BASIC="Basic $(printf '%s:%s' "$LOGIN" "$(user app_password)" | base64 -w0)"
TARGET=/wp-json/wp/v2/posts
CLK_TCK=$(getconf CLK_TCK)

# pids PIDFILE...: the processes named by the pid files and their children.
pids() {
	local f p
	for f in "$@"; do
		[ -s "$f" ] || continue
		p=$(tr -dc '0-9' <"$f")
		[ -d "/proc/$p" ] || continue
		echo "$p"
		pgrep -P "$p" || true
	done
}
# ticks PID...: utime + stime of the processes, in clock ticks (fields 14
# and 15 of /proc/PID/stat, counted after the ")" that ends the name).
ticks() {
	local p s t=0 f
	for p in "$@"; do
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		s=${s##*) }
		read -r -a f <<<"$s"
		t=$((t + f[11] + f[12]))
	done
	echo "$t"
}
stack_pids() { pids "$DIR/nginx/nginx.pid" "$DIR/php-fpm/php-fpm.pid" "$DIR/wpauthz/wpauthz.pid"; }
wpauthz_pids() { pids "$DIR/wpauthz/wpauthz.pid"; }
db_pids() { pids "$DIR/mysql/mysqld.pid"; }

token() {
	curl -sf -H "Host: $E2E_HOST" -H 'Content-Type: application/json' \
		-d "$(jq -nc --arg u "$LOGIN" --arg p "$(user password)" '{username: $u, password: $p}')" \
		"$NGINX_URL/wp-json/api/v1/token" | jq -r .access_token
}

# url_and_auth MODE TOKEN: the base URL and Authorization header of a mode.
url_and_auth() {
	case $1 in
	plain) echo "$PLAIN_URL" "$BASIC" ;;
	bearer) echo "$NGINX_URL" "Bearer $2" ;;
	basic) echo "$NGINX_URL" "$BASIC" ;;
	*) die "unknown mode $1" ;;
	esac
}

# probe: every mode answers 200 as the editor before anything is measured.
tok=$(token)
[ -n "$tok" ] && [ "$tok" != null ] || die "login failed"
for m in $MODES; do
	read -r base auth <<<"$(url_and_auth "$m" "$tok")"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $E2E_HOST" -H "Authorization: $auth" "$base$TARGET?context=edit")
	[ "$code" = 200 ] || die "$m: GET $TARGET?context=edit (authenticated) answered $code"
	"$WRK" -t1 -c"$CONNECTIONS" -d2s -H "Host: $E2E_HOST" -H "Authorization: $auth" "$base$TARGET" >/dev/null # warm-up
done

results=$(mktemp)
trap 'rm -f "$results"; [ $own -eq 1 ] && "$HERE/e2e/down.sh" "$DIR" >/dev/null 2>&1 || true' EXIT
read -r -a modes <<<"$MODES"
for ((r = 1; r <= ROUNDS; r++)); do
	tok=$(token) # a fresh token every round: access tokens live 15 minutes
	order=("${modes[@]}")
	if ((r % 2 == 0)); then
		order=()
		for ((i = ${#modes[@]} - 1; i >= 0; i--)); do order+=("${modes[i]}"); done
	fi
	for m in "${order[@]}"; do
		read -r base auth <<<"$(url_and_auth "$m" "$tok")"
		mapfile -t sp < <(stack_pids)
		mapfile -t wp < <(wpauthz_pids)
		mapfile -t dp < <(db_pids)
		s0=$(ticks "${sp[@]}") w0=$(ticks "${wp[@]}") d0=$(ticks "${dp[@]}")
		out=$("$WRK" -t1 -c"$CONNECTIONS" -d"${DURATION}s" -H "Host: $E2E_HOST" -H "Authorization: $auth" "$base$TARGET")
		s1=$(ticks "${sp[@]}") w1=$(ticks "${wp[@]}") d1=$(ticks "${dp[@]}")
		if grep -q 'Non-2xx' <<<"$out"; then
			printf '%s\n' "$out" >&2
			die "$m: wrk saw non-2xx answers"
		fi
		n=$(awk '/requests in/ {print $1}' <<<"$out")
		rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
		awk -v m="$m" -v r="$r" -v n="$n" -v rps="$rps" -v s=$((s1 - s0)) -v w=$((w1 - w0)) -v d=$((d1 - d0)) -v hz="$CLK_TCK" \
			'BEGIN { printf "%s %d %s %.1f %.3f %.3f %.3f\n", m, r, n, rps, s*1000/hz/n, w*1000/hz/n, d*1000/hz/n }' >>"$results"
		log "round $r $m: $(tail -1 "$results")"
	done
done

echo
echo "| round | mode | requests | req/s | CPU ms/req (nginx+php-fpm+wpauthz) | of which wpauthz | MariaDB ms/req |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"
sort -k2,2n -k1,1 "$results" | awk '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $2, $1, $3, $4, $5, $6, $7 }'
echo
echo "Medians over $ROUNDS rounds of ${DURATION} s, $CONNECTIONS connections:"
echo
echo "| mode | req/s | CPU ms/req | of which wpauthz | MariaDB ms/req | CPU vs plain |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
plain_cpu=
for m in "${modes[@]}"; do
	rps=$(awk -v m="$m" '$1 == m { print $4 }' "$results" | median)
	cpu=$(awk -v m="$m" '$1 == m { print $5 }' "$results" | median)
	wz=$(awk -v m="$m" '$1 == m { print $6 }' "$results" | median)
	db=$(awk -v m="$m" '$1 == m { print $7 }' "$results" | median)
	[ "$m" = plain ] && plain_cpu=$cpu
	rel=—
	[ -n "$plain_cpu" ] && [ "$m" != plain ] && rel=$(awk -v a="$cpu" -v b="$plain_cpu" 'BEGIN { printf "%+.1f %%", (a / b - 1) * 100 }')
	echo "| $m | $rps | $cpu | $wz | $db | $rel |"
done
