#!/usr/bin/env bash
# Stops everything hack/e2e/up.sh started under DIR, by the pid files there
# (TERM, then KILL after a grace period). Idempotent: a component that is not
# running is skipped. Leaves DIR's files (logs, data) in place and removes
# nothing outside DIR; only DIR/stack.env goes, to mark the stack as down.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || die "usage: $0 DIR"
[ -d "$1" ] || exit 0
DIR=$(cd "$1" && pwd)

# Front to back: nothing new reaches WordPress while it stops.
stop_pidfile nginx "$DIR/nginx/nginx.pid" 10
stop_pidfile wpauthz "$DIR/wpauthz/wpauthz.pid" 20
stop_pidfile php-fpm "$DIR/php-fpm/php-fpm.pid" 10
stop_pidfile mariadbd "$DIR/mysql/mysqld.pid" 30
stop_pidfile mariadbd "$DIR/mysql/launch.pid" 30
rm -f "$DIR/stack.env"
