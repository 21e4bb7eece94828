<?php
/*
 * Prints the users file of config/samples/local (the `make run` demo):
 * DEMO ONLY passwords hashed the way WordPress stores them — phpass by
 * WordPress 6.1.9's own wp_hash_password, "$wp$" bcrypt and "$generic$"
 * application passwords as WordPress 6.8 computes them.
 *
 * Usage: php hack/wp-vectors/demo-users.php [WordPress dir]
 */
$wp = $argv[1] ?? '/usr/share/wordpress';
define( 'ABSPATH', rtrim( $wp, '/' ) . '/' );
define( 'WPINC', 'wp-includes' );
require ABSPATH . WPINC . '/plugin.php';
require ABSPATH . WPINC . '/class-phpass.php';
require ABSPATH . WPINC . '/pluggable.php';

function wp68( $p ) {
	return '$wp' . password_hash( base64_encode( hash_hmac( 'sha384', trim( $p ), 'wp-sha384', true ) ), PASSWORD_BCRYPT );
}
function fast( $p ) {
	return '$generic$' . sodium_bin2base64( sodium_crypto_generichash( $p, 'wp_fast_hash_6.8+', 30 ), SODIUM_BASE64_VARIANT_URLSAFE_NO_PADDING );
}
$users = array(
	array( 1, 'admin', 'admin@example.com', 'Site Admin', wp68( 'admin-demo-password' ), array( 'administrator' ), array() ),
	array( 2, 'jane', 'jane@example.com', 'Jane Doe', wp_hash_password( 'jane-demo-password' ), array( 'editor' ),
		array( array( 'laptop', '6f1e2c3a-1b2c-4d5e-8f90-0a1b2c3d4e5f', fast( 'abcdEFGHijklMNOPqrstUVWX' ) ) ) ),
	array( 3, 'sam', 'sam@example.com', 'Sam Reader', wp68( 'sam-demo-password' ), array( 'subscriber' ), array() ),
);
echo "usingApplicationPasswords: true\nusers:\n";
foreach ( $users as $u ) {
	echo "  - id: {$u[0]}\n    login: {$u[1]}\n    email: {$u[2]}\n    displayName: {$u[3]}\n    pass: '{$u[4]}'\n    roles: [" . implode( ', ', $u[5] ) . "]\n";
	if ( $u[6] ) {
		echo "    applicationPasswords:\n";
		foreach ( $u[6] as $a ) {
			echo "      - {name: {$a[0]}, uuid: {$a[1]}, hash: '{$a[2]}'}\n";
		}
	}
}
