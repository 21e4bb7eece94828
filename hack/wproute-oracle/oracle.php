<?php
/*
 * wproute oracle: runs under php-cgi for ONE request and writes, as JSON, how
 * WordPress 6.1 routes it. PHP itself (the CGI SAPI) builds $_GET and $_POST
 * from QUERY_STRING and the body on stdin, exactly as in production; the
 * routing is done by WordPress's own WP::parse_request (class-wp.php),
 * WP_MatchesMapRegex, untrailingslashit, wp_magic_quotes and add_magic_quotes,
 * loaded from the WordPress source tree named by ORACLE_WP_DIR. Only the parts
 * that need a database (home_url, post types, taxonomies) are stubbed, and the
 * few lines of rest_api_loaded() and WP_REST_Server::serve_request() /
 * match_request_to_handler() that decide the route and the method are
 * restated below (see the comments for the originals).
 *
 * Environment (set by gen.php):
 *   ORACLE_WP_DIR      WordPress root (the directory holding wp-includes/)
 *   ORACLE_HOME_PATH   path of home_url(), e.g. "" or "/blog"
 *   ORACLE_REST_PREFIX rest_get_url_prefix(), default "wp-json"
 *   ORACLE_REQUEST_URI raw request target
 *   ORACLE_PATH_INFO   PATH_INFO as the web server would set it (unset: none)
 *   ORACLE_SCRIPT_NAME script name, e.g. "/index.php"
 *   ORACLE_OUT         file to write the JSON answer to
 * plus the usual CGI variables (REQUEST_METHOD, QUERY_STRING, CONTENT_TYPE,
 * CONTENT_LENGTH, HTTP_X_HTTP_METHOD_OVERRIDE).
 */

error_reporting( E_ALL & ~E_DEPRECATED );
ini_set( 'display_errors', '0' );

$wp_dir = getenv( 'ORACLE_WP_DIR' );
define( 'ABSPATH', rtrim( $wp_dir, '/' ) . '/' );
define( 'WPINC', 'wp-includes' );

// Stubs for what parse_request needs from a configured, database-backed site.
function home_url( $path = '' ) {
	return 'http://example.test' . getenv( 'ORACLE_HOME_PATH' ) . ( $path ? '/' . ltrim( $path, '/' ) : '' );
}
function get_post_types( $args = array(), $output = 'names' ) { return array(); }
function is_post_type_viewable( $t ) { return false; }
function get_taxonomies( $args = array(), $output = 'names' ) { return array(); }
function wp_resolve_numeric_slug_conflicts( $q ) { return $q; }
function __( $s ) { return $s; }
class OracleDie extends Exception {}

require ABSPATH . WPINC . '/load.php';
require ABSPATH . WPINC . '/plugin.php';
require ABSPATH . WPINC . '/functions.php';
require ABSPATH . WPINC . '/formatting.php';
require ABSPATH . WPINC . '/class-wp-matchesmapregex.php';
require ABSPATH . WPINC . '/class-wp.php';

// WordPress's own wp_die() picks its handler through these filters.
foreach ( array( 'wp_die_handler', 'wp_die_ajax_handler', 'wp_die_json_handler', 'wp_die_jsonp_handler', 'wp_die_xmlrpc_handler', 'wp_die_xml_handler' ) as $hook ) {
	add_filter(
		$hook,
		function () {
			return function ( $message, $title = '', $args = array() ) {
				throw new OracleDie( is_string( $title ) ? $title : 'die' );
			};
		}
	);
}

// A rewrite object whose rules are what rest_api_register_rewrites() adds
// ('top' rules come first), followed by a catch-all page rule.
class Oracle_Rewrite {
	public $index                  = 'index.php';
	public $use_verbose_page_rules = false;
	public function wp_rewrite_rules() {
		$p = getenv( 'ORACLE_REST_PREFIX' ); // rest_get_url_prefix()
		if ( false === $p || '' === $p ) {
			$p = 'wp-json';
		}
		return array(
			'^' . $p . '/?$'                          => 'index.php?rest_route=/',
			'^' . $p . '/(.*)?'                       => 'index.php?rest_route=/$matches[1]',
			'^' . $this->index . '/' . $p . '/?$'     => 'index.php?rest_route=/',
			'^' . $this->index . '/' . $p . '/(.*)?'  => 'index.php?rest_route=/$matches[1]',
			'(.?.+?)(?:/([0-9]+))?/?$'                => 'index.php?pagename=$matches[1]&page=$matches[2]',
		);
	}
}
$GLOBALS['wp_rewrite'] = new Oracle_Rewrite();

// The server variables a web server would set.
$_SERVER['REQUEST_URI'] = getenv( 'ORACLE_REQUEST_URI' );
$script                 = getenv( 'ORACLE_SCRIPT_NAME' );
$_SERVER['SCRIPT_NAME'] = $script;
unset( $_SERVER['PATH_INFO'], $_SERVER['ORIG_PATH_INFO'] );
$pi = getenv( 'ORACLE_PATH_INFO' );
if ( false !== $pi ) {
	$_SERVER['PATH_INFO'] = $pi;
	$_SERVER['PHP_SELF']  = $script . $pi;
} else {
	$_SERVER['PHP_SELF'] = $script;
}

$out = array(
	'rest'    => false,
	'route'   => '',
	'method'  => '',
	'matched' => '',
	'outcome' => 'ok',
);

try {
	// wp-settings.php: wp_fix_server_vars() then wp_magic_quotes().
	wp_magic_quotes();

	$wp = new WP();
	$GLOBALS['wp'] = $wp;
	$wp->add_query_var( 'rest_route' ); // rest_api_init()
	$wp->parse_request();

	// rest_api_loaded() (rest-api.php), minus serving.
	if ( ! empty( $wp->query_vars['rest_route'] ) ) {
		$route = untrailingslashit( $wp->query_vars['rest_route'] );
		if ( empty( $route ) ) {
			$route = '/';
		}
		$out['rest']  = true;
		$out['route'] = $route;

		// WP_REST_Server::serve_request(): new WP_REST_Request( REQUEST_METHOD )
		// upper-cases via set_method(); then the _method / header override.
		$method = strtoupper( $_SERVER['REQUEST_METHOD'] );
		if ( isset( $_GET['_method'] ) ) {
			$method = strtoupper( $_GET['_method'] );
		} elseif ( isset( $_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE'] ) ) {
			$method = strtoupper( $_SERVER['HTTP_X_HTTP_METHOD_OVERRIDE'] );
		}
		$out['method'] = $method;

		// match_request_to_handler(): '@^' . $route . '$@i' over the routes.
		$routes = array(
			'/',
			'/batch/v1',
			'/wp/v2',
			'/wp/v2/users',
			'/wp/v2/users/me',
			'/wp/v2/users/(?P<id>[\d]+)',
			'/wp/v2/posts',
			'/wp/v2/posts/(?P<id>[\d]+)',
			'/wp/v2/settings',
		);
		foreach ( $routes as $r ) {
			if ( preg_match( '@^' . $r . '$@i', $route ) ) {
				$out['matched'] = $r;
				break;
			}
		}
	}
} catch ( OracleDie $e ) {
	$out['outcome'] = 'die';
} catch ( Throwable $e ) {
	$out['outcome'] = 'fatal: ' . get_class( $e );
}

// Written to a file: php-cgi prints no body for HEAD requests.
file_put_contents( getenv( 'ORACLE_OUT' ), json_encode( $out, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE ) );
