#!/usr/bin/env bash
# Installs the Debian packages the tests drive for real (nginx for the
# auth_request tests, Caddy for forward_auth, MariaDB for the WordPress user
# directory, Redis and Sentinel for the shared token state, WordPress with
# php-fpm for the end-to-end stack) when they are missing.
# Called by `make test`; a no-op when everything is there.
set -euo pipefail

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v caddy >/dev/null 2>&1 || need+=(caddy)
# MariaDB for the WordPress user directory tests (started by the tests
# themselves with their own data dir; the package's service is not started).
{ command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; } && command -v mariadb-install-db >/dev/null 2>&1 || need+=(mariadb-server)
# Redis for the shared token state tests (test/redistest starts its own
# redis-server processes; redis-cli builds the Redis Cluster).
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || [ -x /usr/bin/redis-cli ] || need+=(redis-tools)
# Sentinel topology for the Redis store tests.
command -v redis-sentinel >/dev/null 2>&1 || [ -x /usr/bin/redis-sentinel ] || need+=(redis-sentinel)
# The end-to-end stack (make e2e): WordPress 6.1.9 from Debian, served by
# php-fpm with the mysqli extension; PHP CLI runs the offline installer.
[ -f /usr/share/wordpress/wp-settings.php ] || need+=(wordpress)
ls /usr/sbin/php-fpm* >/dev/null 2>&1 || need+=(php-fpm)
php -m 2>/dev/null | grep -qx mysqli || need+=(php-mysql)
# APCu: the bridge plugin's replay store when WordPress has no persistent
# object cache (the e2e replay tests).
php -m 2>/dev/null | grep -qx apcu || need+=(php-apcu)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "test-deps: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
	exit 1
fi
echo "test-deps: installing ${need[*]}"
# Packages must not start their services on this machine: tests run their
# own instances on free loopback ports.
policy=/usr/sbin/policy-rc.d
created=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
fi
trap '[ $created -eq 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
