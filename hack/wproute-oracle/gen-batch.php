<?php
/*
 * Regenerates authz/testdata/wp_batch_oracle.json: for every /batch/v1
 * request in authz/testdata/batch_oracle_cases.json, asks real PHP
 * (php-cgi) running WordPress's own REST server (batch-oracle.php) which
 * sub-requests it dispatches, with which method and route.
 *
 * Usage (from the repository root; `make batch-oracle` does all three):
 *   go test ./authz -run TestBatchOracle -authz.write-batch-cases
 *   php hack/wproute-oracle/gen-batch.php [WORDPRESS_DIR]
 *   go test ./authz -run TestBatchOracle
 * WORDPRESS_DIR defaults to /usr/share/wordpress (Debian's wordpress
 * package); php-cgi comes from the php-cgi package.
 *
 * Case fields: name, method, target, headers (object), body (string) or
 * body_base64 (for bytes that are not UTF-8).
 */

$root    = dirname( __DIR__, 2 );
$wp_dir  = $argv[1] ?? '/usr/share/wordpress';
$in      = $root . '/authz/testdata/batch_oracle_cases.json';
$outfile = $root . '/authz/testdata/wp_batch_oracle.json';
$oracle  = __DIR__ . '/batch-oracle.php';

if ( ! is_file( $wp_dir . '/wp-includes/rest-api/class-wp-rest-server.php' ) ) {
	fwrite( STDERR, "no WordPress at $wp_dir\n" );
	exit( 1 );
}
require __DIR__ . '/cgi.php';
$php_cgi = oracle_php_cgi();

$cases = json_decode( file_get_contents( $in ), true, 512, JSON_THROW_ON_ERROR );
$out   = array();
foreach ( $cases as $c ) {
	$body    = isset( $c['body_base64'] ) ? base64_decode( $c['body_base64'], true ) : ( $c['body'] ?? '' );
	$c['wp'] = oracle_run_cgi( $php_cgi, $oracle, $c, array( 'ORACLE_WP_DIR' => $wp_dir ), $body );
	$out[]   = $c;
}

file_put_contents(
	$outfile,
	json_encode( $out, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES ) . "\n"
);
fwrite( STDERR, count( $out ) . " cases written to $outfile\n" );
