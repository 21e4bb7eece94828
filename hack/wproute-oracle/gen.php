<?php
/*
 * Regenerates authz/wproute/testdata/wp_oracle.json: for every request
 * spelling in authz/wproute/testdata/oracle_cases.json, asks real PHP
 * (php-cgi, which fills $_GET/$_POST with its own parser) running
 * WordPress's own routing code (oracle.php) where the request goes.
 *
 * Usage (from the repository root):
 *   apt-get install -y php-cgi php-cli wordpress   # or unpack the .deb
 *   php hack/wproute-oracle/gen.php [WORDPRESS_DIR]
 * WORDPRESS_DIR defaults to /usr/share/wordpress.
 *
 * The case list itself is written by the Go test:
 *   go test ./authz/wproute -run TestOracle -wproute.write-cases
 *
 * Case fields: name, method, target, headers (object), body (string),
 * home ("" or "/blog"), prefix (rest_get_url_prefix(), default "wp-json"),
 * pathinfo (bool: the web server sets PATH_INFO for
 * "<script>.php/<rest>", as Apache does; otherwise the request reaches
 * index.php through a rewrite, as with nginx try_files).
 */

$root    = dirname( __DIR__, 2 );
$wp_dir  = $argv[1] ?? '/usr/share/wordpress';
$in      = $root . '/authz/wproute/testdata/oracle_cases.json';
$outfile = $root . '/authz/wproute/testdata/wp_oracle.json';
$oracle  = __DIR__ . '/oracle.php';

if ( ! is_file( $wp_dir . '/wp-includes/class-wp.php' ) ) {
	fwrite( STDERR, "no WordPress at $wp_dir\n" );
	exit( 1 );
}
require __DIR__ . '/cgi.php';
$php_cgi = oracle_php_cgi();

$cases = json_decode( file_get_contents( $in ), true, 512, JSON_THROW_ON_ERROR );
$out   = array();
foreach ( $cases as $c ) {
	$target = $c['target'];
	$q      = strpos( $target, '?' );
	$path   = false === $q ? $target : substr( $target, 0, $q );
	$home   = $c['home'] ?? '';

	$env = array(
		'ORACLE_WP_DIR'      => $wp_dir,
		'ORACLE_HOME_PATH'   => $home,
		'ORACLE_REST_PREFIX' => $c['prefix'] ?? 'wp-json',
		'ORACLE_REQUEST_URI' => $target,
		'ORACLE_SCRIPT_NAME' => $home . '/index.php',
	);
	if ( ! empty( $c['pathinfo'] ) ) {
		// Apache: the script is the first "<name>.php" segment; PATH_INFO is
		// the rest of the path, percent-decoded.
		if ( ! preg_match( '#^(.*?\.php)(/.*)$#i', $path, $m ) ) {
			fwrite( STDERR, "case {$c['name']}: pathinfo needs a .php/ segment\n" );
			exit( 1 );
		}
		$env['ORACLE_SCRIPT_NAME'] = $m[1];
		$env['ORACLE_PATH_INFO']   = rawurldecode( $m[2] );
	}
	$c['wp'] = oracle_run_cgi( $php_cgi, $oracle, $c, $env, $c['body'] ?? '' );
	$out[]   = $c;
}

file_put_contents(
	$outfile,
	json_encode( $out, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE ) . "\n"
);
fwrite( STDERR, count( $out ) . " cases written to $outfile\n" );
