<?php
/*
 * Generates authz/wpusers/testdata/wp_vectors.json: password and
 * application-password hashes, and PHP-serialized user meta, produced by
 * WordPress's own code (Debian's `wordpress` package, 6.1.9: class-phpass.php,
 * pluggable.php's wp_hash_password/wp_check_password, PHP's serialize) and,
 * for the 6.8+ formats, by PHP doing what WordPress 6.8 does (written here
 * from WordPress 6.8's documented behaviour: bcrypt over
 * base64(HMAC-SHA384(password, "wp-sha384")) prefixed "$wp", and
 * "$generic$" + base64url(BLAKE2b-240 keyed "wp_fast_hash_6.8+")).
 *
 * Usage: php hack/wp-vectors/hashes.php [WordPress dir] > authz/wpusers/testdata/wp_vectors.json
 * (make wp-vectors). The Go tests read the JSON; they never need PHP.
 */

$wp = $argv[1] ?? '/usr/share/wordpress';
if ( ! is_file( "$wp/wp-includes/pluggable.php" ) ) {
	fwrite( STDERR, "no WordPress at $wp (apt-get install wordpress, or apt-get download wordpress && dpkg-deb -x)\n" );
	exit( 1 );
}
define( 'ABSPATH', rtrim( $wp, '/' ) . '/' );
define( 'WPINC', 'wp-includes' );
require ABSPATH . WPINC . '/version.php';
require ABSPATH . WPINC . '/plugin.php';
require ABSPATH . WPINC . '/class-phpass.php';
require ABSPATH . WPINC . '/pluggable.php';
// functions.php is not loaded (it needs a database); wp_rand needs absint.
if ( ! function_exists( 'absint' ) ) {
	function absint( $maybeint ) {
		return abs( (int) $maybeint );
	}
}

/* ---- WordPress 6.8 behaviour (not in 6.1.9) ---- */

function wp68_hash_password( $password ) {
	if ( strlen( $password ) > 4096 ) {
		return '*';
	}
	$prehashed = base64_encode( hash_hmac( 'sha384', trim( $password ), 'wp-sha384', true ) );
	return '$wp' . password_hash( $prehashed, PASSWORD_BCRYPT );
}

function wp68_check_password( $password, $hash ) {
	if ( strlen( $hash ) <= 32 ) {
		return hash_equals( $hash, md5( $password ) );
	}
	if ( strlen( $password ) > 4096 ) {
		return false;
	}
	if ( str_starts_with( $hash, '$wp' ) ) {
		$prehashed = base64_encode( hash_hmac( 'sha384', $password, 'wp-sha384', true ) );
		return password_verify( $prehashed, substr( $hash, 3 ) );
	}
	if ( str_starts_with( $hash, '$P$' ) ) {
		return ( new PasswordHash( 8, true ) )->CheckPassword( $password, $hash );
	}
	return password_verify( $password, $hash );
}

function wp68_fast_hash( $message ) {
	return '$generic$' . sodium_bin2base64( sodium_crypto_generichash( $message, 'wp_fast_hash_6.8+', 30 ), SODIUM_BASE64_VARIANT_URLSAFE_NO_PADDING );
}

function wp68_verify_fast_hash( $message, $hash ) {
	if ( ! str_starts_with( $hash, '$generic$' ) ) {
		return ( new PasswordHash( 8, true ) )->CheckPassword( $message, $hash );
	}
	return hash_equals( $hash, wp68_fast_hash( $message ) );
}

/* wp_authenticate + wp_authenticate_username_password, minus the database:
 * trim(), then empty() refuses "" and "0", then wp_check_password. */
function authenticate_as( $check, $input, $hash ) {
	$password = trim( $input );
	if ( empty( $password ) ) {
		return false;
	}
	return $check( $password, $hash );
}

/* What wp_authenticate_application_password does to the input. */
function app_input( $input ) {
	return preg_replace( '/[^a-z\d]/i', '', $input );
}

function b64( $s ) {
	return base64_encode( $s );
}

$wp61 = function ( $p, $h ) { return wp_check_password( $p, $h ); };
$wp68 = function ( $p, $h ) { return wp68_check_password( $p, $h ); };

$passwords = array();
function add_case( $name, $hashed_from, $hash, $inputs ) {
	global $passwords, $wp61, $wp68;
	foreach ( $inputs as $label => $input ) {
		$passwords[] = array(
			'name'             => "$name/$label",
			'hash'             => $hash,
			'input_b64'        => b64( $input ),
			'wp61_check'       => $wp61( $input, $hash ),
			'wp68_check'       => $wp68( $input, $hash ),
			'wp61_authenticate' => authenticate_as( $wp61, $input, $hash ),
			'wp68_authenticate' => authenticate_as( $wp68, $input, $hash ),
		);
	}
}

$long4096 = str_repeat( 'a', 4096 );
$long4097 = str_repeat( 'a', 4097 );
$long5000 = str_repeat( 'b', 5000 );

// phpass, as WordPress 6.1 writes it (wp_hash_password trims first).
$h = wp_hash_password( 'correct horse battery staple' );
add_case( 'phpass', 'correct horse battery staple', $h, array(
	'right' => 'correct horse battery staple',
	'wrong' => 'correct horse battery stapl',
	'spaces-around' => "  correct horse battery staple \t\n",
	'empty' => '',
) );
$h = wp_hash_password( '  spaced secret  ' ); // stored trimmed
add_case( 'phpass-trimmed-at-hash', '  spaced secret  ', $h, array(
	'as-typed' => '  spaced secret  ',
	'trimmed' => 'spaced secret',
	'inner-space-changed' => 'spaced  secret',
) );
$h = wp_hash_password( "p\xc3\xa4ssw\xc3\xb6rd \xe2\x9c\x93" );
add_case( 'phpass-utf8', 'utf8', $h, array( 'right' => "p\xc3\xa4ssw\xc3\xb6rd \xe2\x9c\x93", 'nfd' => "pa\xcc\x88ssw\xc3\xb6rd \xe2\x9c\x93" ) );
$h = wp_hash_password( "nul\x00inside" );
add_case( 'phpass-nul', 'nul', $h, array( 'right' => "nul\x00inside", 'truncated' => 'nul', 'nul-around' => "\x00nul\x00inside\x00" ) );
$h = wp_hash_password( '0' );
add_case( 'phpass-zero', '0', $h, array( 'zero' => '0', 'zero-spaced' => ' 0 ' ) );
$h = wp_hash_password( $long4096 );
add_case( 'phpass-4096', '4096 bytes', $h, array( '4096' => $long4096, '4097' => $long4097, '4096-plus-space' => $long4096 . ' ' ) );
// phpBB's $H$ is the same algorithm.
$h = '$H$' . substr( wp_hash_password( 'phpbb user' ), 3 );
add_case( 'phpass-H', 'phpbb user', $h, array( 'right' => 'phpbb user', 'wrong' => 'phpbb usr' ) );
// A phpass hash with a higher cost letter (phpass with 10 → "D").
$h = ( new PasswordHash( 10, true ) )->HashPassword( 'slower' );
add_case( 'phpass-cost10', 'slower', $h, array( 'right' => 'slower', 'wrong' => 'Slower' ) );

// MD5, from WordPress before 2.5 (no length limit, no trimming of the hash).
$h = md5( 'old school' );
add_case( 'md5', 'old school', $h, array( 'right' => 'old school', 'wrong' => 'old  school', 'spaces' => ' old school ' ) );
add_case( 'md5-upper', 'old school', strtoupper( md5( 'old school' ) ), array( 'right' => 'old school' ) );
add_case( 'md5-long', '5000 bytes', md5( $long5000 ), array( '5000' => $long5000 ) );

// Plain bcrypt (password_hash; a plugin or 6.8's compat path).
$h = password_hash( 'bcrypt plain', PASSWORD_BCRYPT );
add_case( 'bcrypt-2y', 'bcrypt plain', $h, array( 'right' => 'bcrypt plain', 'wrong' => 'bcrypt plai' ) );
$h = password_hash( $long5000, PASSWORD_BCRYPT );
add_case( 'bcrypt-long', '5000 bytes', $h, array( '5000' => $long5000, 'first-72' => substr( $long5000, 0, 72 ) ) );

// WordPress 6.8's $wp$ bcrypt.
$h = wp68_hash_password( 'six point eight' );
add_case( 'wp68', 'six point eight', $h, array( 'right' => 'six point eight', 'wrong' => 'six point eigh', 'spaces' => ' six point eight ' ) );
$h = wp68_hash_password( $long4096 );
add_case( 'wp68-4096', '4096 bytes', $h, array( '4096' => $long4096, '4097' => $long4097, 'first-72' => substr( $long4096, 0, 72 ) ) );
$h = wp68_hash_password( "  \x00padded\x0b " );
add_case( 'wp68-trimmed-at-hash', 'padded', $h, array( 'as-typed' => "  \x00padded\x0b ", 'trimmed' => 'padded' ) );

// Application passwords: WP_Application_Passwords stores wp_hash_password
// (6.1: phpass) of a 24-character wp_generate_password(24, false);
// 6.8 stores wp_fast_hash.
$apps = array();
function add_app( $name, $hash, $inputs ) {
	global $apps;
	foreach ( $inputs as $label => $input ) {
		$apps[] = array(
			'name'      => "$name/$label",
			'hash'      => $hash,
			'input_b64' => b64( $input ),
			'wp61'      => wp_check_password( app_input( $input ), $hash ),
			'wp68'      => wp68_verify_fast_hash( app_input( $input ), $hash ),
		);
	}
}
$plain = wp_generate_password( 24, false );
$chunked = trim( chunk_split( $plain, 4, ' ' ) );
$h61 = wp_hash_password( $plain );
add_app( 'app61', $h61, array( 'plain' => $plain, 'chunked' => $chunked, 'dashes' => str_replace( ' ', '-', $chunked ), 'wrong' => substr( $plain, 1 ), 'lowercased' => strtolower( $plain ) ) );
$plain2 = wp_generate_password( 24, false );
$h68 = wp68_fast_hash( $plain2 );
add_app( 'app68', $h68, array( 'plain' => $plain2, 'chunked' => trim( chunk_split( $plain2, 4, ' ' ) ), 'accented' => "\xc3\xa9" . $plain2 . "\xe2\x80\x94", 'wrong' => strrev( $plain2 ) ) );

// User meta as WordPress serializes it.
$uuid = function () {
	$b = random_bytes( 16 );
	$b[6] = chr( ord( $b[6] ) & 0x0f | 0x40 );
	$b[8] = chr( ord( $b[8] ) & 0x3f | 0x80 );
	return vsprintf( '%s%s-%s-%s-%s-%s%s%s', str_split( bin2hex( $b ), 4 ) );
};
$app_meta = serialize( array(
	array( 'uuid' => $uuid(), 'app_id' => '', 'name' => 'laptop', 'password' => $h61, 'created' => 1700000000, 'last_used' => null, 'last_ip' => null ),
	array( 'uuid' => $uuid(), 'app_id' => $uuid(), 'name' => "caf\xc3\xa9 \"app\"", 'password' => $h68, 'created' => 1750000000, 'last_used' => 1750000100, 'last_ip' => '192.0.2.1' ),
) );

$caps = array();
foreach ( array(
	'administrator' => array( 'administrator' => true ),
	'editor-string-1' => array( 'editor' => '1' ),
	'shop-manager-and-cap' => array( 'shop_manager' => true, 'edit_posts' => true ),
	'two-roles' => array( 'author' => true, 'contributor' => true ),
	'role-false' => array( 'subscriber' => false ),
	'unregistered' => array( 'ghost_role' => true, 'subscriber' => true ),
	'empty' => array(),
	'int-key' => array( 0 => true, 'editor' => 1 ),
) as $label => $arr ) {
	$caps[] = array( 'name' => $label, 'serialized' => serialize( $arr ), 'keys' => array_map( 'strval', array_keys( $arr ) ), 'truthy' => array_values( array_map( function ( $v ) { return (bool) $v; }, $arr ) ) );
}

// The default role names (populate_roles) as {prefix}user_roles holds them.
$roles = array();
foreach ( array( 'administrator', 'editor', 'author', 'contributor', 'subscriber', 'shop_manager' ) as $r ) {
	$roles[ $r ] = array( 'name' => ucfirst( $r ), 'capabilities' => array( 'read' => true ) );
}

echo json_encode( array(
	'generated_by'     => 'hack/wp-vectors/hashes.php',
	'wordpress'        => $wp_version,
	'php'              => PHP_VERSION,
	'passwords'        => $passwords,
	'app_passwords'    => $apps,
	'app_password_meta' => array( 'serialized' => $app_meta, 'hashes' => array( $h61, $h68 ), 'names' => array( 'laptop', "caf\xc3\xa9 \"app\"" ) ),
	'capabilities'     => $caps,
	'user_roles'       => serialize( $roles ),
	'using_application_passwords' => array( 'true' => serialize( true ), 'one' => '1' ),
), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES ) . "\n";
