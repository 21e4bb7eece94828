#!/usr/bin/env bash
# Brings up the end-to-end stack under DIR, as plain processes on 127.0.0.1
# with their own data directories (docs/e2e.md):
#
#   MariaDB     DIR/mysql      mariadbd, socket + TCP; database "wordpress",
#                              read-write user for WordPress, SELECT-only user
#                              for wpauthz
#   WordPress   DIR/wp         a copy of Debian's /usr/share/wordpress (6.1.9),
#                              our wp-config.php, installed offline by
#                              hack/e2e/wp-setup.php, the bridge mu-plugin
#   php-fpm     DIR/php-fpm    unix socket
#   wpauthz     DIR/wpauthz    `serve --config-dir DIR/wpauthz/config`
#   nginx       DIR/nginx      NGINX_URL: auth_request to wpauthz, then php-fpm
#                              DIRECT_URL: straight to php-fpm, no wpauthz
#
# and writes DIR/stack.env (KEY=VALUE) and DIR/stack.json (users, passwords,
# application passwords, API keys). On failure it prints the logs' tails and
# stops whatever it started. hack/e2e/down.sh DIR stops it all.
#
# Environment: WPAUTHZ_BIN (a built wpauthz; default: go build into DIR/bin),
# WP_SRC (default /usr/share/wordpress), PHP_FPM (default /usr/sbin/php-fpm*),
# E2E_HOST (default wp.e2e.test).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -eq 1 ] || die "usage: $0 DIR"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
WP_SRC=${WP_SRC:-/usr/share/wordpress}
HOST=${E2E_HOST:-wp.e2e.test}
# A second site name on the same WordPress, under a policy that reads
# credentials from X-WP-Auth (hardening item 5).
CUSTOM_HOST=custom.$HOST
T0=$(date +%s%N)
elapsed() { echo "$((($(date +%s%N) - T0) / 1000000)) ms"; }

# ---- prerequisites ---------------------------------------------------------
MARIADBD=$(find_bin mariadbd mysqld) || die "mariadbd not found (apt-get install mariadb-server; hack/test-deps.sh)"
INSTALL_DB=$(find_bin mariadb-install-db mysql_install_db) || die "mariadb-install-db not found"
MARIADB=$(find_bin mariadb mysql) || die "mariadb client not found"
MYSQLADMIN=$(find_bin mariadb-admin mysqladmin) || die "mariadb-admin not found"
PHP=$(find_bin php) || die "php (CLI) not found"
FPM=$(find_php_fpm) || die "php-fpm not found (apt-get install php-fpm)"
NGINX=$(find_bin nginx) || die "nginx not found (apt-get install nginx-light)"
OPENSSL=$(find_bin openssl) || die "openssl not found"
[ -f "$WP_SRC/wp-settings.php" ] || die "no WordPress at $WP_SRC (apt-get install wordpress)"
php_mods=$("$PHP" -m 2>/dev/null || true)
[[ $'\n'$php_mods$'\n' == *$'\n'mysqli$'\n'* ]] || die "php has no mysqli (apt-get install php-mysql)"
# sockaddr_un holds 108 bytes.
[ ${#DIR} -le 80 ] || die "DIR path too long for unix sockets (${#DIR} > 80 bytes): $DIR"
[ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty (a stack there? hack/e2e/down.sh $DIR stops it): give up.sh an empty or new DIR"

ok=0
on_exit() {
	local rc=$?
	if [ $ok -ne 1 ]; then
		log "bring-up failed (exit $rc) after $(elapsed); log tails follow, then everything started is stopped"
		log_tails
		"$E2E_HERE/down.sh" "$DIR" >&2 || true
	fi
}
trap on_exit EXIT

mkdir -p "$DIR"/{bin,mysql,php-fpm,nginx/logs,nginx/tmp,wpauthz/config}
read -r MYSQL_PORT NGINX_PORT DIRECT_PORT WPAUTHZ_HTTP_PORT WPAUTHZ_GRPC_PORT WPAUTHZ_INTERNAL_PORT PLAIN_PORT <<<"$(free_ports 7)" ||
	die "no free ports"

# ---- wpauthz binary (built in the background while MariaDB starts) ---------
build_pid=
if [ -n "${WPAUTHZ_BIN:-}" ]; then
	[ -x "$WPAUTHZ_BIN" ] || die "WPAUTHZ_BIN=$WPAUTHZ_BIN is not executable"
	BIN=$WPAUTHZ_BIN
else
	BIN=$DIR/bin/wpauthz
	GO=${GO:-go}
	command -v "$GO" >/dev/null || die "go not found (or set WPAUTHZ_BIN)"
	(cd "$E2E_REPO" && "$GO" build -o "$BIN" ./cmd/wpauthz) >"$DIR/build.log" 2>&1 &
	build_pid=$!
fi

# ---- secrets and keys ------------------------------------------------------
rand() { "$OPENSSL" rand -hex "$1"; }
WP_DB_PASS=$(rand 16)
RO_DB_PASS=$(rand 16)
NOTIFY_KEY=$(rand 32)
umask 077
"$OPENSSL" genpkey -algorithm ed25519 -out "$DIR/wpauthz/identity.pem" 2>/dev/null
"$OPENSSL" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/wpauthz/jwt-es256.pem" 2>/dev/null
# The bridge takes the public key as base64 of the raw 32 bytes (the tail of
# the SPKI DER).
IDENTITY_PUB=$("$OPENSSL" pkey -in "$DIR/wpauthz/identity.pem" -pubout -outform DER | tail -c 32 | base64 -w0)
umask 022

# ---- MariaDB ---------------------------------------------------------------
log "MariaDB on 127.0.0.1:$MYSQL_PORT"
MYSQL_SOCK=$DIR/mysql/mysqld.sock
root_args=()
is_root && root_args=(--user=root)
"$INSTALL_DB" --no-defaults --datadir="$DIR/mysql/data" --auth-root-authentication-method=normal \
	--skip-test-db "${root_args[@]}" >"$DIR/mysql/install.log" 2>&1 ||
	{ cat "$DIR/mysql/install.log" >&2; die "mariadb-install-db failed"; }
nohup "$MARIADBD" --no-defaults --datadir="$DIR/mysql/data" --socket="$MYSQL_SOCK" --port="$MYSQL_PORT" \
	--bind-address=127.0.0.1 --skip-name-resolve --skip-log-bin --pid-file="$DIR/mysql/mysqld.pid" \
	--log-error="$DIR/mysql/error.log" --innodb-buffer-pool-size=32M --max-connections=200 \
	--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_520_ci "${root_args[@]}" \
	>"$DIR/mysql/stdout.log" 2>&1 </dev/null &
echo $! >"$DIR/mysql/launch.pid" # until mariadbd writes its own
wait_for "mariadbd" 60 "$MYSQLADMIN" --no-defaults --socket="$MYSQL_SOCK" -uroot ping || die "mariadbd did not start"
sql() { "$MARIADB" --no-defaults --socket="$MYSQL_SOCK" -uroot "$@"; }
sql <<SQL
CREATE DATABASE wordpress DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci;
CREATE USER 'wordpress'@'127.0.0.1' IDENTIFIED BY '$WP_DB_PASS';
GRANT ALL PRIVILEGES ON wordpress.* TO 'wordpress'@'127.0.0.1';
CREATE USER 'wpauthz'@'127.0.0.1' IDENTIFIED BY '$RO_DB_PASS';
SQL
log "MariaDB ready ($(elapsed))"

# ---- WordPress -------------------------------------------------------------
WP=$DIR/wp
cp -a "$WP_SRC" "$WP"
# Debian's wp-config.php reads /etc/wordpress; ours is below.
rm -f "$WP/wp-config.php" "$WP/.htaccess"
mkdir -p "$WP/wp-content/mu-plugins" "$WP/wp-content/uploads"
if [ -f "$E2E_REPO/wordpress/wpauthz-bridge.php" ]; then
	# A link, so that edits to the plugin show without a new stack.
	ln -s "$E2E_REPO/wordpress/wpauthz-bridge.php" "$WP/wp-content/mu-plugins/wpauthz-bridge.php"
else
	log "WARNING: $E2E_REPO/wordpress/wpauthz-bridge.php missing: WordPress runs without the bridge plugin"
fi
salt() { "$OPENSSL" rand -base64 48 | tr -d '\n'; }
cat >"$WP/wp-config.php" <<PHP
<?php
// wp-config.php of the wpauthz e2e stack (hack/e2e/up.sh).
define( 'DB_NAME', 'wordpress' );
define( 'DB_USER', 'wordpress' );
define( 'DB_PASSWORD', '$WP_DB_PASS' );
define( 'DB_HOST', '127.0.0.1:$MYSQL_PORT' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );

define( 'AUTH_KEY', '$(salt)' );
define( 'SECURE_AUTH_KEY', '$(salt)' );
define( 'LOGGED_IN_KEY', '$(salt)' );
define( 'NONCE_KEY', '$(salt)' );
define( 'AUTH_SALT', '$(salt)' );
define( 'SECURE_AUTH_SALT', '$(salt)' );
define( 'LOGGED_IN_SALT', '$(salt)' );
define( 'NONCE_SALT', '$(salt)' );

\$table_prefix = 'wp_';

define( 'WP_HOME', 'http://$HOST' );
define( 'WP_SITEURL', 'http://$HOST' );
// 'local': application passwords work over plain http (the direct path).
define( 'WP_ENVIRONMENT_TYPE', 'local' );
define( 'WP_DEBUG', true );
define( 'WP_DEBUG_LOG', true );          // wp-content/debug.log
define( 'WP_DEBUG_DISPLAY', false );     // never into a REST answer
define( 'DISABLE_WP_CRON', true );
define( 'FS_METHOD', 'direct' );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_AUTO_UPDATE_CORE', false );

// The wpauthz bridge (wordpress/README.md).
define( 'WPAUTHZ_PUBLIC_KEY', '$IDENTITY_PUB' );
define( 'WPAUTHZ_NOTIFY_URL', 'http://127.0.0.1:$WPAUTHZ_INTERNAL_PORT/v1/user-changed' );
define( 'WPAUTHZ_NOTIFY_KEY', '$NOTIFY_KEY' );
define( 'WPAUTHZ_HOST', '$HOST' );

// PLAIN_URL (the baseline of hack/e2e-bench.sh): WordPress as it is without
// wpauthz. nginx sets this parameter on that server only (a client cannot:
// request headers reach PHP as HTTP_*); the bridge then does not load.
if ( ! empty( \$_SERVER['WPAUTHZ_E2E_PLAIN'] ) ) {
	define( 'WPAUTHZ_BRIDGE_VERSION', 'not loaded' );
}
// The same way, for the test of WPAUTHZ_ALLOW_CORE_AUTH (an nginx the test
// starts sets it).
if ( ! empty( \$_SERVER['WPAUTHZ_E2E_CORE_AUTH'] ) ) {
	define( 'WPAUTHZ_ALLOW_CORE_AUTH', true );
}

if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}
require_once ABSPATH . 'wp-settings.php';
PHP
log "installing WordPress"
"$PHP" "$E2E_HERE/wp-setup.php" "$WP" "$DIR/wp-users.json" >"$DIR/wp-setup.log" 2>&1 ||
	die "wp-setup.php failed (log: $DIR/wp-setup.log)"
sql <<SQL
GRANT SELECT ON wordpress.wp_users TO 'wpauthz'@'127.0.0.1';
GRANT SELECT ON wordpress.wp_usermeta TO 'wpauthz'@'127.0.0.1';
GRANT SELECT ON wordpress.wp_options TO 'wpauthz'@'127.0.0.1';
SQL
log "WordPress installed ($(elapsed))"

# ---- php-fpm ---------------------------------------------------------------
FPM_SOCK=$DIR/php-fpm/fpm.sock
fpm_user=
is_root && fpm_user=$'user = root\ngroup = root'
cat >"$DIR/php-fpm/php-fpm.conf" <<CONF
[global]
pid = $DIR/php-fpm/php-fpm.pid
error_log = $DIR/php-fpm/error.log
daemonize = yes

[wordpress]
$fpm_user
listen = $FPM_SOCK
listen.mode = 0666
pm = static
pm.max_children = 4
catch_workers_output = yes
decorate_workers_output = no
php_admin_value[error_log] = $DIR/php-fpm/php-error.log
php_admin_flag[log_errors] = on
php_admin_flag[display_errors] = off
CONF
fpm_args=(--fpm-config "$DIR/php-fpm/php-fpm.conf")
is_root && fpm_args+=(-R)
"$FPM" "${fpm_args[@]}" </dev/null >"$DIR/php-fpm/stdout.log" 2>&1 || die "php-fpm failed to start"
wait_for "php-fpm socket" 20 test -S "$FPM_SOCK" || die "php-fpm socket missing"

# ---- wpauthz ---------------------------------------------------------------
if [ -n "$build_pid" ]; then
	wait "$build_pid" || { cat "$DIR/build.log" >&2; die "go build ./cmd/wpauthz failed"; }
	log "wpauthz built ($(elapsed))"
fi
EDITOR_KEY=$("$BIN" apikey generate 2>/dev/null) || die "$BIN apikey generate failed"
SUBSCRIBER_KEY=$("$BIN" apikey generate 2>/dev/null) || die "$BIN apikey generate failed"
USERS_JSON=$DIR/wp-users.json
uid() { "$PHP" -r '$u = json_decode(file_get_contents($argv[1]), true); echo $u["users"][$argv[2]]["id"];' "$USERS_JSON" "$1"; }
EDITOR_ID=$(uid editor)
SUBSCRIBER_ID=$(uid subscriber)
indent() { sed 's/^/    /'; }
CONF=$DIR/wpauthz/config
cat >"$CONF/secrets.yaml" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: e2e-wordpress-db, namespace: default}
stringData:
  dsn: "wpauthz:$RO_DB_PASS@tcp(127.0.0.1:$MYSQL_PORT)/wordpress?charset=utf8mb4"
---
apiVersion: v1
kind: Secret
metadata: {name: e2e-jwt-keys, namespace: default}
stringData:
  e2e-es256: |
$(indent <"$DIR/wpauthz/jwt-es256.pem")
---
apiVersion: v1
kind: Secret
metadata: {name: e2e-notify-key, namespace: default}
stringData:
  key: "$NOTIFY_KEY"
---
apiVersion: v1
kind: Secret
metadata: {name: e2e-editor-key, namespace: default}
stringData:
  key: "$EDITOR_KEY"
---
apiVersion: v1
kind: Secret
metadata: {name: e2e-subscriber-key, namespace: default}
stringData:
  key: "$SUBSCRIBER_KEY"
YAML
cat >"$CONF/apikeys.yaml" <<YAML
# User-specific keys: they act as these WordPress users, with the roles
# WordPress gives them (no spec.roles needed).
apiVersion: policy.wpauthz.io/v1alpha1
kind: ApiKey
metadata: {name: editor, namespace: default}
spec:
  policyRef: {name: e2e}
  user: {id: $EDITOR_ID}
  secretRef: {name: e2e-editor-key, key: key}
---
apiVersion: policy.wpauthz.io/v1alpha1
kind: ApiKey
metadata: {name: subscriber, namespace: default}
spec:
  policyRef: {name: e2e}
  user: {id: $SUBSCRIBER_ID}
  secretRef: {name: e2e-subscriber-key, key: key}
YAML
cat >"$CONF/policy.yaml" <<YAML
apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata: {name: e2e, namespace: default}
spec:
  hosts: ["$HOST"]
  restPrefix: /wp-json
  defaultAction: Authenticate
  rules:
    - name: token-endpoints
      routes: ["/api/v1/token", "/api/v1/token/**", "/api/v1/token-validate"]
      action: Allow
    # Disabled endpoints: answered 404 rest_no_route, as an unknown route.
    - name: settings-disabled
      routes: ["/wp/v2/settings", "/wp/v2/settings/**"]
      action: Deny
    - name: no-user-enumeration
      routes: ["/wp/v2/users"]
      methods: [GET]
      action: Deny
    - name: no-user-deletion
      routes: ["/wp/v2/users/*"]
      methods: [DELETE]
      action: Deny
    - name: public-index
      routes: ["/"]
      methods: [GET]
      action: Allow
    - name: public-content
      routes: ["/wp/v2/posts", "/wp/v2/posts/*", "/wp/v2/pages", "/wp/v2/pages/*", "/wp/v2/categories", "/wp/v2/tags"]
      methods: [GET]
      action: Allow
    # Writing posts: editors and administrators only (wpauthz answers 403).
    - name: posts-write-editors
      routes: ["/wp/v2/posts", "/wp/v2/posts/**"]
      methods: [POST, PUT, PATCH, DELETE]
      action: Authenticate
      roles: [editor, administrator]
    # Writing pages: any identity; WordPress's capability checks decide.
    - name: pages-write-any-user
      routes: ["/wp/v2/pages", "/wp/v2/pages/**"]
      methods: [POST, PUT, PATCH, DELETE]
      action: Authenticate
  authentication:
    jwt:
      issuer: http://$HOST/wp-json
      audiences: ["$HOST"]
      algorithm: ES256
      keysSecretRef: {name: e2e-jwt-keys}
      signingKeyID: e2e-es256
      accessTokenTTL: 15m
    apiKeys:
      header: X-API-Key
    basic:
      accept: [Password, ApplicationPassword]
  wordpress:
    databaseSecretRef: {name: e2e-wordpress-db, key: dsn}
    tablePrefix: wp_
    notificationKeySecretRef: {name: e2e-notify-key, key: key}
  identity:
    ttl: 30s
YAML
cat >"$CONF/policy-custom-header.yaml" <<YAML
apiVersion: policy.wpauthz.io/v1alpha1
kind: WPApiPolicy
metadata: {name: e2e-custom-header, namespace: default}
spec:
  hosts: ["$CUSTOM_HOST"]
  restPrefix: /wp-json
  defaultAction: Authenticate
  rules:
    # Public as far as wpauthz is concerned: WordPress's own capability
    # check decides, so it must never see a credential wpauthz did not check.
    - name: settings-read
      routes: ["/wp/v2/settings"]
      methods: [GET]
      action: Allow
    - name: public-content
      routes: ["/", "/wp/v2/posts", "/wp/v2/posts/*"]
      methods: [GET]
      action: Allow
  authentication:
    credentialHeader: X-WP-Auth
    jwt:
      issuer: http://$CUSTOM_HOST/wp-json
      audiences: ["$CUSTOM_HOST"]
      algorithm: ES256
      keysSecretRef: {name: e2e-jwt-keys}
      signingKeyID: e2e-es256
  identity:
    ttl: 30s
YAML
cat >"$DIR/ports.env" <<ENV
WPAUTHZ_BIN=$BIN
WPAUTHZ_HTTP_PORT=$WPAUTHZ_HTTP_PORT
WPAUTHZ_GRPC_PORT=$WPAUTHZ_GRPC_PORT
WPAUTHZ_INTERNAL_PORT=$WPAUTHZ_INTERNAL_PORT
ENV
log "wpauthz on 127.0.0.1:$WPAUTHZ_HTTP_PORT (gRPC $WPAUTHZ_GRPC_PORT, internal $WPAUTHZ_INTERNAL_PORT)"
"$E2E_HERE/wpauthz.sh" start "$DIR"
log "wpauthz ready ($(elapsed))"

# ---- nginx -----------------------------------------------------------------
NG=$DIR/nginx
nginx_user=
is_root && nginx_user='user root;' # workers would otherwise be nobody, locked out of DIR
# The wpauthz check, as docs/integrations.md has it, for the one location that
# reaches PHP.
cat >"$NG/wpauthz-check.conf" <<'CONF'
auth_request /_wpauthz;
auth_request_set $wpauthz_identity    $upstream_http_x_wpauthz_identity;
auth_request_set $wpauthz_status      $upstream_http_x_wpauthz_status;
auth_request_set $wpauthz_code        $upstream_http_x_wpauthz_code;
auth_request_set $wpauthz_retry_after $upstream_http_retry_after;
error_page 401 403 = @wpauthz_denied;
CONF
cat >"$NG/fastcgi.conf" <<CONF
fastcgi_pass php_fpm;
fastcgi_param QUERY_STRING      \$query_string;
fastcgi_param REQUEST_METHOD    \$request_method;
fastcgi_param CONTENT_TYPE      \$content_type;
fastcgi_param CONTENT_LENGTH    \$content_length;
fastcgi_param SCRIPT_NAME       \$fastcgi_script_name;
fastcgi_param SCRIPT_FILENAME   \$document_root\$fastcgi_script_name;
fastcgi_param REQUEST_URI       \$request_uri;
fastcgi_param DOCUMENT_URI      \$document_uri;
fastcgi_param DOCUMENT_ROOT     \$document_root;
fastcgi_param SERVER_PROTOCOL   \$server_protocol;
fastcgi_param REQUEST_SCHEME    \$scheme;
fastcgi_param GATEWAY_INTERFACE CGI/1.1;
fastcgi_param SERVER_SOFTWARE   nginx;
fastcgi_param REMOTE_ADDR       \$remote_addr;
fastcgi_param REMOTE_PORT       \$remote_port;
fastcgi_param SERVER_ADDR       \$server_addr;
fastcgi_param SERVER_PORT       \$server_port;
fastcgi_param SERVER_NAME       \$host;
fastcgi_param REDIRECT_STATUS   200;
fastcgi_param HTTP_PROXY        "";
CONF
cat >"$NG/nginx.conf" <<CONF
$nginx_user
worker_processes 1;
error_log $NG/logs/error.log info;
pid $NG/nginx.pid;
events { worker_connections 512; }
http {
    access_log $NG/logs/access.log;
    # One line per wpauthz check, with the client's X-E2E-Request: the
    # tests count checks per client request (hardening item 11).
    log_format wpauthz_check '\$http_x_e2e_request \$request_uri';
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    default_type application/octet-stream;
    # WordPress sees the path as sent; so does location matching.
    merge_slashes off;
    server_tokens off;

    upstream wpauthz_http {
        server 127.0.0.1:$WPAUTHZ_HTTP_PORT;
        keepalive 16;
    }
    upstream php_fpm {
        server unix:$FPM_SOCK;
    }

    # NGINX_URL: every request is checked by wpauthz; the token endpoints are
    # served by wpauthz, everything else by WordPress.
    server {
        listen 127.0.0.1:$NGINX_PORT default_server;
        server_name $HOST;
        root $WP;
        index index.php;

        # wpauthz's own token endpoints (/token, /token/refresh, /revoke,
        # /validate, /token-validate): served by wpauthz itself, which checks
        # what they are sent; a form login body never reaches /auth.
        location ^~ /wp-json/api/v1/token {
            proxy_pass http://wpauthz_http;
            proxy_set_header X-WPAuthz-Identity "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        # No check here: this location serves static files itself and
        # hands everything else to /index.php by an internal redirect, which
        # the PHP location below checks. A check here as well would run
        # again after the redirect: two checks per request.
        location / {
            try_files \$uri \$uri/ /index.php\$is_args\$args;
        }

        # Every request that reaches PHP, sent straight to a .php file or
        # redirected here from above, is checked once, here. No other
        # location passes to php-fpm.
        location ~ \.php\$ {
            include $NG/wpauthz-check.conf;
            try_files \$uri =404;
            include $NG/fastcgi.conf;
            # The identity wpauthz issued, or nothing: a client's
            # X-WPAuthz-Identity never reaches PHP (a fastcgi_param named
            # HTTP_* replaces the client header of that name), and neither do
            # the credentials wpauthz already checked.
            fastcgi_param HTTP_X_WPAUTHZ_IDENTITY \$wpauthz_identity if_not_empty;
            fastcgi_param HTTP_AUTHORIZATION "";
            fastcgi_param HTTP_X_API_KEY "";
            fastcgi_param HTTP_X_WP_AUTH "";
        }

        location = /_wpauthz {
            internal;
            log_subrequest on;
            access_log $NG/logs/wpauthz-checks.log wpauthz_check;
            proxy_pass http://wpauthz_http/auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI \$request_uri;
            proxy_set_header X-Original-Method \$request_method;
            proxy_set_header X-Forwarded-Uri "";
            proxy_set_header X-Forwarded-Method "";
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }

        location @wpauthz_denied {
            default_type "application/json; charset=UTF-8";
            add_header Retry-After \$wpauthz_retry_after always;
            # Tells the tests (and operators) that wpauthz refused, not WordPress.
            add_header X-WPAuthz-Code \$wpauthz_code always;
            if (\$wpauthz_status = 400) {
                return 400 '{"code":"\$wpauthz_code","message":"The request could not be routed unambiguously.","data":{"status":400}}';
            }
            if (\$wpauthz_status = 401) {
                return 401 '{"code":"\$wpauthz_code","message":"You are not currently logged in.","data":{"status":401}}';
            }
            if (\$wpauthz_status = 404) {
                return 404 '{"code":"\$wpauthz_code","message":"No route was found matching the URL and request method.","data":{"status":404}}';
            }
            if (\$wpauthz_status = 429) {
                return 429 '{"code":"\$wpauthz_code","message":"Too many requests. Try again later.","data":{"status":429}}';
            }
            if (\$wpauthz_status = 503) {
                return 503 '{"code":"\$wpauthz_code","message":"The authorization service is unavailable.","data":{"status":503}}';
            }
            return 403 '{"code":"\$wpauthz_code","message":"Sorry, you are not allowed to do that.","data":{"status":403}}';
        }
    }

    # DIRECT_URL: straight to PHP, no wpauthz, the client's headers passed
    # on (even with underscores): what an attacker who bypasses the proxy gets.
    server {
        listen 127.0.0.1:$DIRECT_PORT default_server;
        server_name $HOST;
        root $WP;
        index index.php;
        underscores_in_headers on;

        location / {
            try_files \$uri \$uri/ /index.php\$is_args\$args;
        }
        location ~ \.php\$ {
            try_files \$uri =404;
            include $NG/fastcgi.conf;
        }
    }

    # PLAIN_URL: WordPress without wpauthz and without the bridge plugin,
    # core's own application-password authentication on: the baseline the
    # end-to-end benchmark (hack/e2e-bench.sh) compares against.
    server {
        listen 127.0.0.1:$PLAIN_PORT default_server;
        server_name $HOST;
        root $WP;
        index index.php;

        location / {
            try_files \$uri \$uri/ /index.php\$is_args\$args;
        }
        location ~ \.php\$ {
            try_files \$uri =404;
            include $NG/fastcgi.conf;
            fastcgi_param WPAUTHZ_E2E_PLAIN 1;
        }
    }
}
CONF
log "nginx on 127.0.0.1:$NGINX_PORT (checked) and 127.0.0.1:$DIRECT_PORT (direct)"
"$NGINX" -p "$NG/" -c "$NG/nginx.conf" -e "$NG/logs/error.log" </dev/null >"$NG/logs/stdout.log" 2>&1 ||
	{ cat "$NG/logs/stdout.log" >&2; die "nginx failed to start"; }
wait_for "nginx pid file" 10 test -s "$NG/nginx.pid" || die "nginx did not start"

# ---- a real WordPress answer, through nginx and wpauthz --------------------
wp_index_ok() {
	local r
	r=$(http_get "$1" /wp-json/ "$HOST")
	[[ $r == "HTTP/1.1 200"* && $r == *'"namespaces"'* ]]
}
wait_for "WordPress REST index through nginx+wpauthz" 30 wp_index_ok "$NGINX_PORT" || {
	http_get "$NGINX_PORT" /wp-json/ "$HOST" | head -c 2000 >&2
	die "no WordPress REST answer through nginx"
}
wait_for "WordPress REST index, direct" 10 wp_index_ok "$DIRECT_PORT" || die "no WordPress REST answer on the direct port"

# ---- what the tests read ---------------------------------------------------
cat >"$DIR/stack.env.tmp" <<ENV
E2E_DIR=$DIR
E2E_HOST=$HOST
E2E_CUSTOM_HOST=$CUSTOM_HOST
NGINX_URL=http://127.0.0.1:$NGINX_PORT
DIRECT_URL=http://127.0.0.1:$DIRECT_PORT
PLAIN_URL=http://127.0.0.1:$PLAIN_PORT
WPAUTHZ_HTTP=http://127.0.0.1:$WPAUTHZ_HTTP_PORT
WPAUTHZ_GRPC=127.0.0.1:$WPAUTHZ_GRPC_PORT
WPAUTHZ_INTERNAL=http://127.0.0.1:$WPAUTHZ_INTERNAL_PORT
WPAUTHZ_BIN=$BIN
WPAUTHZ_CONFIG_DIR=$CONF
IDENTITY_KEY_FILE=$DIR/wpauthz/identity.pem
IDENTITY_PUBLIC_KEY=$IDENTITY_PUB
NOTIFY_KEY=$NOTIFY_KEY
WP_DIR=$WP
PHP=$PHP
MYSQL_SOCKET=$MYSQL_SOCK
MYSQL_PORT=$MYSQL_PORT
WP_DB_DSN='wordpress:$WP_DB_PASS@tcp(127.0.0.1:$MYSQL_PORT)/wordpress?charset=utf8mb4'
WPAUTHZ_DB_DSN='wpauthz:$RO_DB_PASS@tcp(127.0.0.1:$MYSQL_PORT)/wordpress?charset=utf8mb4'
ENV
"$PHP" -r '
	$s = json_decode(file_get_contents($argv[1]), true);
	$s["host"] = $argv[3];
	$s["api_keys"] = array("editor" => $argv[4], "subscriber" => $argv[5]);
	file_put_contents($argv[2], json_encode($s, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES) . "\n");
' "$USERS_JSON" "$DIR/stack.json" "$HOST" "$EDITOR_KEY" "$SUBSCRIBER_KEY"
mv "$DIR/stack.env.tmp" "$DIR/stack.env"
ok=1
log "stack up in $(elapsed): NGINX_URL=http://127.0.0.1:$NGINX_PORT DIRECT_URL=http://127.0.0.1:$DIRECT_PORT (Host: $HOST); see $DIR/stack.env"
