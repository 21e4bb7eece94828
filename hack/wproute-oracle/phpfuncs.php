<?php
/*
 * Regenerates authz/wproute/testdata/php_funcs.json: the answers of PHP and
 * WordPress's own functions for the inputs wproute's batch reader restates
 * (authz/wproute/testdata/php_func_cases.json, written by
 * `go test ./authz/wproute -run TestPHPFunctionOracle -wproute.write-php-cases`):
 *
 *   json          json_decode( $body, true ), as WP_REST_Request::parse_json_params()
 *   query         parse_str( $query )['requests'] (php_default_treat_data, as $_GET)
 *   content_type  WP_REST_Request::is_json_content_type() (wp_is_json_media_type)
 *   sub_path      wp_parse_url( $path ), as serve_batch_request_v1()
 *
 * Usage: php hack/wproute-oracle/phpfuncs.php [WORDPRESS_DIR]  (`make batch-oracle`)
 * Inputs and strings in the answers are base64: they need not be UTF-8.
 */

$root   = dirname( __DIR__, 2 );
$wp_dir = rtrim( $argv[1] ?? '/usr/share/wordpress', '/' ) . '/';
$in     = $root . '/authz/wproute/testdata/php_func_cases.json';
$out    = $root . '/authz/wproute/testdata/php_funcs.json';

error_reporting( E_ALL & ~E_DEPRECATED & ~E_WARNING );
define( 'ABSPATH', $wp_dir );
define( 'WPINC', 'wp-includes' );
if ( ! is_file( ABSPATH . WPINC . '/rest-api/class-wp-rest-request.php' ) ) {
	fwrite( STDERR, "no WordPress at $wp_dir\n" );
	exit( 1 );
}
require ABSPATH . WPINC . '/load.php';
require ABSPATH . WPINC . '/plugin.php';
require ABSPATH . WPINC . '/http.php';
require ABSPATH . WPINC . '/rest-api/class-wp-rest-request.php';

// A PHP value, with array key types and order, as JSON.
function canon( $v ) {
	if ( is_array( $v ) ) {
		$items = array();
		foreach ( $v as $k => $x ) {
			$items[] = array( is_int( $k ) ? 'int' : 'string', base64_encode( (string) $k ), canon( $x ) );
		}
		return array( 'array' => $items );
	}
	if ( is_string( $v ) ) {
		return array( 'string' => base64_encode( $v ) );
	}
	if ( is_int( $v ) || is_float( $v ) ) {
		return array( 'number' => true );
	}
	if ( is_bool( $v ) ) {
		return array( 'bool' => $v );
	}
	return array( 'null' => true );
}

$cases  = json_decode( file_get_contents( $in ), true, 512, JSON_THROW_ON_ERROR );
$answer = array(
	'php'    => PHP_VERSION,
	'inputs' => $cases,
);

foreach ( $cases['json'] as $b64 ) {
	$v = json_decode( base64_decode( $b64 ), true );
	$answer['json'][] = ( null === $v && JSON_ERROR_NONE !== json_last_error() ) ? array( 'error' => json_last_error_msg() ) : canon( $v );
}
foreach ( $cases['query'] as $b64 ) {
	$vars = array();
	parse_str( base64_decode( $b64 ), $vars );
	$answer['query'][] = array_key_exists( 'requests', $vars ) ? canon( $vars['requests'] ) : array( 'unset' => true );
}
foreach ( $cases['content_type'] as $b64 ) {
	$request = new WP_REST_Request( 'POST', '/batch/v1' );
	$request->set_header( 'content-type', base64_decode( $b64 ) );
	$answer['content_type'][] = $request->is_json_content_type();
}
foreach ( $cases['sub_path'] as $b64 ) {
	$parts = wp_parse_url( base64_decode( $b64 ) );
	if ( false === $parts ) {
		$answer['sub_path'][] = array( 'error' => true );
		continue;
	}
	$answer['sub_path'][] = array(
		'path'  => isset( $parts['path'] ) ? base64_encode( $parts['path'] ) : null,
		'query' => isset( $parts['query'] ) ? base64_encode( $parts['query'] ) : null,
		'host'  => isset( $parts['host'] ),
	);
}

file_put_contents( $out, json_encode( $answer, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR, 1 << 16 ) . "\n" );
fwrite( STDERR, "PHP " . PHP_VERSION . " answers written to $out\n" );
