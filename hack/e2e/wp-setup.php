<?php
/*
 * Offline WordPress installer for the e2e stack (hack/e2e/up.sh runs it with
 * PHP CLI; nothing here touches the network):
 *
 *   php hack/e2e/wp-setup.php WP_DIR OUT_JSON
 *
 * WP_DIR holds a WordPress whose wp-config.php points at an empty database.
 * Runs wp_install(), sets pretty permalinks (/%postname%/) and flushes the
 * rewrite rules, creates one user per role (administrator, editor, author,
 * subscriber) with a random password and one application password each, and
 * writes them to OUT_JSON:
 *
 *   {"users": {"editor": {"id": 2, "login": "editor", "email": "...",
 *              "password": "...", "app_password": "...", "role": "editor"}, ...}}
 */

if ( PHP_SAPI !== 'cli' || $argc !== 3 ) {
	fwrite( STDERR, "usage: php wp-setup.php WP_DIR OUT_JSON\n" );
	exit( 2 );
}
$wp_dir = rtrim( $argv[1], '/' );
$out    = $argv[2];

define( 'WP_INSTALLING', true );
// Pluggable: wp_install() would mail the admin.
function wp_new_blog_notification( $blog_title, $blog_url, $user_id, $password ) {}

$_SERVER['HTTP_HOST']   = 'localhost';
$_SERVER['REQUEST_URI'] = '/';
require $wp_dir . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-includes/class-wp-application-passwords.php';

// No HTTP at all: wp_install() probes pretty permalinks with loopback
// requests, and nothing else may phone home.
add_filter(
	'pre_http_request',
	function () {
		return new WP_Error( 'http_request_failed', 'offline e2e install' );
	}
);
add_filter( 'pre_wp_mail', '__return_false' );

if ( is_blog_installed() ) {
	fwrite( STDERR, "wp-setup: WordPress is already installed in this database\n" );
	exit( 1 );
}

$roles = array( 'administrator', 'editor', 'author', 'subscriber' );
$host  = parse_url( WP_HOME, PHP_URL_HOST );
$users = array();

$admin_pass = wp_generate_password( 24, false );
$result     = wp_install( 'wpauthz e2e', 'admin', 'admin@' . $host, false, '', wp_slash( $admin_pass ) );
if ( is_wp_error( $result ) || empty( $result['user_id'] ) ) {
	fwrite( STDERR, "wp-setup: wp_install failed\n" );
	exit( 1 );
}

global $wp_rewrite;
$wp_rewrite->set_permalink_structure( '/%postname%/' );
update_option( 'rewrite_rules', '' );
$wp_rewrite->flush_rules( false );

foreach ( $roles as $role ) {
	if ( 'administrator' === $role ) {
		$id   = (int) $result['user_id'];
		$pass = $admin_pass;
	} else {
		$pass = wp_generate_password( 24, false );
		$id   = wp_insert_user(
			array(
				'user_login'   => $role,
				'user_pass'    => $pass,
				'user_email'   => $role . '@' . $host,
				'display_name' => ucfirst( $role ) . ' E2E',
				'role'         => $role,
			)
		);
		if ( is_wp_error( $id ) ) {
			fwrite( STDERR, "wp-setup: creating $role: " . $id->get_error_message() . "\n" );
			exit( 1 );
		}
	}
	$app = WP_Application_Passwords::create_new_application_password( $id, array( 'name' => 'e2e' ) );
	if ( is_wp_error( $app ) ) {
		fwrite( STDERR, "wp-setup: application password for $role: " . $app->get_error_message() . "\n" );
		exit( 1 );
	}
	$u               = get_userdata( $id );
	$users[ $role ] = array(
		'id'           => $id,
		'login'        => $u->user_login,
		'email'        => $u->user_email,
		'password'     => $pass,
		'app_password' => WP_Application_Passwords::chunk_password( $app[0] ),
		'role'         => $role,
	);
}

$json = json_encode( array( 'users' => $users ), JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES ) . "\n";
if ( false === file_put_contents( $out, $json ) ) {
	fwrite( STDERR, "wp-setup: cannot write $out\n" );
	exit( 1 );
}
printf( "wp-setup: installed WordPress %s, %d users\n", get_bloginfo( 'version' ), count( $users ) );
