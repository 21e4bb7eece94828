<?php
/*
 * Batch oracle: runs under php-cgi for ONE request to /batch/v1 and writes,
 * as JSON, which sub-requests WordPress 6.1 dispatches. PHP itself (the
 * CGI SAPI) builds $_GET, $_POST and $_SERVER from QUERY_STRING, the
 * headers and the body on stdin, exactly as in production. WordPress's own
 * REST server does the rest: WP_REST_Server::serve_request() builds the
 * WP_REST_Request (method override, parameters, body), dispatch() validates
 * the "requests" argument against its schema, and
 * serve_batch_request_v1() runs the sub-requests. The real WordPress
 * source is loaded from ORACLE_WP_DIR, with the default REST filters
 * (rest_api_default_filters); only what needs a database or a logged-in
 * user (options, the REST URL, the current user) is stubbed.
 *
 * The routes are dummies that allow batching and record the method and the
 * route they were dispatched with: core's routes need a database, and the
 * question is only which handler WordPress calls, with which method.
 * /wp/v2/comments is registered without allow_batch, as a route that
 * refuses to run inside a batch.
 *
 * Environment (set by gen-batch.php):
 *   ORACLE_WP_DIR  WordPress root (the directory holding wp-includes/)
 *   ORACLE_OUT     file to write the JSON answer to
 * plus the usual CGI variables.
 */

error_reporting( E_ALL & ~E_DEPRECATED );
ini_set( 'display_errors', '0' );

$wp_dir = getenv( 'ORACLE_WP_DIR' );
define( 'ABSPATH', rtrim( $wp_dir, '/' ) . '/' );
define( 'WPINC', 'wp-includes' );

// Stubs for a configured site with nobody logged in; its options are
// answered below through the pre_option filter.
function is_user_logged_in() { return false; }
function get_current_user_id() { return 0; }
function __( $s, $domain = 'default' ) { return $s; }
function _x( $s, $context, $domain = 'default' ) { return $s; }
function esc_html__( $s, $domain = 'default' ) { return $s; }
function _n( $single, $plural, $number, $domain = 'default' ) { return 1 === $number ? $single : $plural; }

require ABSPATH . WPINC . '/load.php';
require ABSPATH . WPINC . '/plugin.php';
require ABSPATH . WPINC . '/functions.php';
require ABSPATH . WPINC . '/formatting.php';
require ABSPATH . WPINC . '/http.php';
require ABSPATH . WPINC . '/kses.php';
require ABSPATH . WPINC . '/link-template.php';
require ABSPATH . WPINC . '/class-wp-rewrite.php';
require ABSPATH . WPINC . '/class-wp-error.php';
require ABSPATH . WPINC . '/class-wp-list-util.php';
require ABSPATH . WPINC . '/class-wp-http-response.php';
require ABSPATH . WPINC . '/class-wp-http.php';
require ABSPATH . WPINC . '/rest-api.php';
require ABSPATH . WPINC . '/rest-api/class-wp-rest-server.php';
require ABSPATH . WPINC . '/rest-api/class-wp-rest-response.php';
require ABSPATH . WPINC . '/rest-api/class-wp-rest-request.php';

$GLOBALS['oracle_dispatched'] = array();
$GLOBALS['oracle_result']     = null;

function oracle_register_routes() {
	$routes = array(
		array( 'wp/v2', '/posts', true ),
		array( 'wp/v2', '/posts/(?P<id>[\d]+)', true ),
		array( 'wp/v2', '/pages', true ),
		array( 'wp/v2', '/pages/(?P<id>[\d]+)', true ),
		array( 'wp/v2', '/users', true ),
		array( 'wp/v2', '/users/(?P<id>[\d]+)', true ),
		array( 'wp/v2', '/settings', true ),
		array( 'wp/v2', '/comments', false ),
		array( 'shop/v1', '/orders', true ),
		array( 'shop/v1', '/orders/(?P<id>[\d]+)', true ),
		array( 'shop/v1', '/products/(?P<slug>[^/]+)', true ),
	);
	foreach ( $routes as list( $namespace, $route, $batch ) ) {
		$pattern = '/' . $namespace . $route;
		$args    = array(
			'methods'             => 'GET, POST, PUT, PATCH, DELETE',
			'permission_callback' => '__return_true',
			'callback'            => function ( WP_REST_Request $request ) use ( $pattern ) {
				$GLOBALS['oracle_dispatched'][] = array(
					'method'  => $request->get_method(),
					'route'   => $request->get_route(),
					'matched' => $pattern,
				);
				return array( 'ok' => true );
			},
		);
		if ( $batch ) {
			$args['allow_batch'] = array( 'v1' => true );
		}
		register_rest_route( $namespace, $route, $args );
	}
}

add_filter(
	'pre_option',
	function ( $pre, $option ) {
		$options = array(
			'blog_charset'        => 'UTF-8',
			'home'                => 'http://example.test',
			'siteurl'             => 'http://example.test',
			'permalink_structure' => '/%postname%/',
		);
		return $options[ $option ] ?? $pre;
	},
	10,
	2
);

$GLOBALS['wp_rewrite'] = new WP_Rewrite();

// wp-settings.php: wp_magic_quotes(); default-filters.php: the "%l" list
// format of the schema's error messages, and the REST API's own filters on
// rest_api_init.
wp_magic_quotes();
add_filter( 'wp_sprintf', 'wp_sprintf_l', 10, 2 );
add_action( 'rest_api_init', 'rest_api_default_filters', 10, 1 );
add_action( 'rest_api_init', 'oracle_register_routes' );

// The last rest_post_dispatch is the batch request's own response.
add_filter(
	'rest_post_dispatch',
	function ( $result ) {
		$GLOBALS['oracle_result'] = $result;
		return $result;
	},
	PHP_INT_MAX
);

$out = array( 'outcome' => 'ok' );
try {
	ob_start();
	rest_get_server()->serve_request( '/batch/v1' );
	ob_end_clean();
	$result = $GLOBALS['oracle_result'];
	if ( $result instanceof WP_HTTP_Response ) {
		$out['status'] = $result->get_status();
		$data          = $result->get_data();
		if ( is_array( $data ) && isset( $data['code'] ) && is_string( $data['code'] ) ) {
			$out['code'] = $data['code'];
		}
	}
} catch ( Throwable $e ) {
	ob_end_clean();
	$out['outcome'] = 'fatal: ' . get_class( $e ) . ': ' . $e->getMessage();
}
$out['dispatched'] = $GLOBALS['oracle_dispatched'];

file_put_contents( getenv( 'ORACLE_OUT' ), json_encode( $out, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE ) );
