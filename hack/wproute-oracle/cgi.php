<?php
/*
 * Runs one request through php-cgi, which fills $_GET, $_POST and
 * $_SERVER with PHP's own parsers exactly as in production, and returns
 * the JSON the oracle script wrote to ORACLE_OUT (null when it wrote none).
 * Shared by gen.php and gen-batch.php.
 *
 * $c holds the case: method, target, headers (object), body (string).
 * $env adds variables (SCRIPT_FILENAME is set from $script).
 */

function oracle_php_cgi() {
	$php_cgi = trim( (string) shell_exec( 'command -v php-cgi' ) );
	if ( '' === $php_cgi ) {
		fwrite( STDERR, "php-cgi not found (apt-get install php-cgi)\n" );
		exit( 1 );
	}
	return $php_cgi;
}

function oracle_run_cgi( $php_cgi, $script, array $c, array $env, $body ) {
	$target = $c['target'];
	$q      = strpos( $target, '?' );
	$query  = false === $q ? '' : substr( $target, $q + 1 );
	$out    = tempnam( sys_get_temp_dir(), 'wproute-oracle' );

	$env += array(
		'PATH'              => getenv( 'PATH' ),
		'REDIRECT_STATUS'   => '200',
		'GATEWAY_INTERFACE' => 'CGI/1.1',
		'SERVER_PROTOCOL'   => 'HTTP/1.1',
		'SERVER_SOFTWARE'   => 'oracle',
		'REQUEST_METHOD'    => $c['method'],
		'QUERY_STRING'      => $query,
		'ORACLE_OUT'        => $out,
	);
	$env['SCRIPT_FILENAME'] = $script;
	foreach ( $c['headers'] ?? array() as $k => $v ) {
		$k = strtolower( $k );
		if ( 'content-type' === $k ) {
			$env['CONTENT_TYPE'] = $v;
		} else {
			// What nginx/Apache do: upper-case, '-' becomes '_'.
			$env[ 'HTTP_' . strtoupper( strtr( $k, '-', '_' ) ) ] = $v;
		}
	}
	$env['CONTENT_LENGTH'] = (string) strlen( $body );

	$proc = proc_open(
		array( $php_cgi, '-q', '-d', 'cgi.fix_pathinfo=0', '-d', 'display_errors=0', $script ),
		array( 0 => array( 'pipe', 'r' ), 1 => array( 'pipe', 'w' ), 2 => array( 'pipe', 'w' ) ),
		$pipes,
		null,
		$env
	);
	fwrite( $pipes[0], $body );
	fclose( $pipes[0] );
	$stdout = stream_get_contents( $pipes[1] );
	$stderr = stream_get_contents( $pipes[2] );
	fclose( $pipes[1] );
	fclose( $pipes[2] );
	proc_close( $proc );

	// Written to a file: php-cgi prints no body for HEAD requests.
	$answer = json_decode( (string) file_get_contents( $out ), true );
	unlink( $out );
	if ( ! is_array( $answer ) ) {
		fwrite( STDERR, "case {$c['name']}: bad oracle output: $stdout $stderr\n" );
		exit( 1 );
	}
	return $answer;
}
