<?php
/**
 * Plugin Name:       wpauthz bridge
 * Description:       Trusts the identity that wpauthz (the REST API gateway in front of this site) signs into X-WPAuthz-Identity, provisions the users it asks for, and tells wpauthz when a user's password, roles or application passwords change so that user's tokens die at once. Must-use plugin: copy this one file into wp-content/mu-plugins/.
 * Version:           1.0.0
 * Requires PHP:      7.4
 * Requires at least: 5.6
 * License:           Apache-2.0
 *
 * Copyright 2026 The wpauthz authors.
 * Licensed under the Apache License, Version 2.0.
 *
 * Configuration (wp-config.php), see README.md next to this file:
 *   WPAUTHZ_PUBLIC_KEY             string|array  Ed25519 public key(s): base64 of the raw 32 bytes
 *                                                (`wpauthz identity public-key`) or a PEM "PUBLIC KEY"
 *                                                block; an array (at most 4, optionally keyed by kid)
 *                                                during a key rotation.
 *   WPAUTHZ_HOST                   string        optional: the host the assertion's "aud" must equal
 *                                                (default: the request's Host, lowercased, no port).
 *   WPAUTHZ_NOTIFY_URL             string        wpauthz's internal notification endpoint.
 *   WPAUTHZ_NOTIFY_KEY             string        the shared notification key (at least 32 bytes).
 *   WPAUTHZ_PROVISION_ALLOW_ADMIN  bool          allow provisioning users with administrator-level roles.
 *   WPAUTHZ_ALLOW_CORE_AUTH        bool          let WordPress core check application passwords itself
 *                                                on requests without an assertion (off: only wpauthz does).
 */

// Loaded outside WordPress (e.g. the file requested over HTTP): do nothing.
if ( ! defined( 'ABSPATH' ) ) {
	return;
}

// Loaded twice (a copy in mu-plugins and in plugins): the first one wins.
// (A constant, not class_exists: PHP declares this file's class before the
// file's first statement runs.)
if ( defined( 'WPAUTHZ_BRIDGE_VERSION' ) ) {
	return;
}
define( 'WPAUTHZ_BRIDGE_VERSION', '1.0.0' );

/**
 * The whole plugin. Static because WordPress hooks are global and there is
 * exactly one request per PHP process lifetime that matters; all state is
 * per request.
 */
final class WPAuthz_Bridge {

	/** $_SERVER key of the X-WPAuthz-Identity request header. */
	const SERVER_KEY = 'HTTP_X_WPAUTHZ_IDENTITY';

	/** The JWS "typ" wpauthz signs with; anything else is refused. */
	const TOKEN_TYPE = 'wpauthz-id+jwt';

	/** Largest assertion accepted, in bytes (wpauthz's are ~400). */
	const MAX_ASSERTION_BYTES = 4096;

	/** Clock skew tolerated on exp and iat, in seconds. */
	const LEEWAY = 5;

	/** Longest lifetime (exp - iat) an assertion may claim, in seconds. */
	const MAX_TTL = 60;

	/** Most public keys tried for one assertion (rotation needs two). */
	const MAX_KEYS = 4;

	/** Object-cache group of seen jti values (persistent object cache only). */
	const JTI_GROUP = 'wpauthz_jti';

	/** Usermeta holding the wpauthz subject a provisioned user belongs to. */
	const SUBJECT_META = 'wpauthz_subject';

	/** Usermeta holding a fingerprint of user_pass (detects wp_set_password on WordPress < 6.2). */
	const PASS_FP_META = '_wpauthz_pass_fp';

	/** The REST error code of a refused assertion. */
	const ERROR_CODE = 'wpauthz_invalid_identity';

	/** The one message a refused assertion gets; the reason goes to the log only. */
	const ERROR_MESSAGE = 'The identity assertion is not valid.';

	/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the 32 key bytes. */
	const SPKI_PREFIX_HEX = '302a300506032b6570032100';

	/** Seconds a notification may take. */
	const NOTIFY_TIMEOUT = 3;

	/** Seconds to wait for the provisioning lock. */
	const PROVISION_LOCK_WAIT = 5;

	/**
	 * Capabilities that make a role administrator-equivalent: whoever holds
	 * one can take over the site or other accounts. Roles carrying any of
	 * them are provisioned only with WPAUTHZ_PROVISION_ALLOW_ADMIN.
	 */
	const PRIVILEGED_CAPS = array(
		'manage_options',
		'promote_users',
		'edit_users',
		'create_users',
		'delete_users',
		'install_plugins',
		'activate_plugins',
		'edit_plugins',
		'edit_themes',
		'update_core',
		'unfiltered_upload',
		'manage_network',
	);

	/** Wire event names of the notification call. */
	const EVENTS = array(
		'password_changed',
		'password_reset',
		'role_changed',
		'user_deleted',
		'application_password_revoked',
		'user_changed',
	);

	/**
	 * The verdict on this request's header, once computed:
	 * array{present: bool, valid: bool, user_id: int}.
	 *
	 * @var array|null
	 */
	private static $verdict = null;

	/** @var bool verification in progress (guards re-entry through hooks). */
	private static $verifying = false;

	/** @var bool a user is being provisioned: its creation is not a "change". */
	private static $provisioning = false;

	/**
	 * While wp_insert_user() creates a user: the highest user ID that
	 * existed before, so that the new user's role assignment and first
	 * fingerprint are not taken for changes. Null otherwise.
	 *
	 * @var int|null
	 */
	private static $creating_above = null;

	/** @var array<int,true> users already notified during this request. */
	private static $notified = array();

	/** @var array<int,true> users whose password is being reset (password_reset fired). */
	private static $resetting = array();

	/** @var bool inside the user_pass fingerprint check. */
	private static $fingerprinting = false;

	/** @var array|false|null parsed keys, false when misconfigured, null before parsing. */
	private static $keys = null;

	/** @var array<string,true> configuration problems already logged. */
	private static $logged = array();

	/**
	 * Registers the hooks. Nothing else runs at load time.
	 */
	public static function boot() {
		// Identity. PHP_INT_MAX: run after cookie and application-password
		// authentication so a valid assertion always has the last word.
		add_filter( 'determine_current_user', array( __CLASS__, 'determine_current_user' ), PHP_INT_MAX );
		add_filter( 'application_password_is_api_request', array( __CLASS__, 'application_password_is_api_request' ), PHP_INT_MAX );
		// Before core's application-password (90) and cookie/nonce (100)
		// checks, which pass a non-empty result through untouched.
		add_filter( 'rest_authentication_errors', array( __CLASS__, 'rest_authentication_errors' ), 50 );
		// And last, so no later filter can turn a refusal into a success.
		add_filter( 'rest_authentication_errors', array( __CLASS__, 'rest_authentication_errors_final' ), PHP_INT_MAX );
		// Non-REST requests with a bad assertion end with the same 401.
		add_action( 'wp_loaded', array( __CLASS__, 'on_wp_loaded' ), PHP_INT_MAX );
		add_action( 'parse_request', array( __CLASS__, 'end_if_refused' ), 11 ); // after rest_api_loaded (10)
		add_action( 'wp', array( __CLASS__, 'end_if_refused' ), PHP_INT_MIN );

		// Notifications.
		add_action( 'password_reset', array( __CLASS__, 'on_password_reset' ), 10, 1 );
		add_action( 'after_password_reset', array( __CLASS__, 'on_after_password_reset' ), 10, 1 );
		add_action( 'profile_update', array( __CLASS__, 'on_profile_update' ), 10, 2 );
		add_action( 'wp_set_password', array( __CLASS__, 'on_wp_set_password' ), 10, 2 ); // WordPress >= 6.2
		add_action( 'clean_user_cache', array( __CLASS__, 'on_clean_user_cache' ), 10, 1 );
		add_action( 'set_user_role', array( __CLASS__, 'on_role_change' ), 10, 1 );
		add_action( 'add_user_role', array( __CLASS__, 'on_role_change' ), 10, 1 );
		add_action( 'remove_user_role', array( __CLASS__, 'on_role_change' ), 10, 1 );
		add_action( 'delete_user', array( __CLASS__, 'on_user_deleted' ), 10, 1 );
		add_action( 'deleted_user', array( __CLASS__, 'on_user_deleted' ), 10, 1 );
		add_action( 'wpmu_delete_user', array( __CLASS__, 'on_user_deleted' ), 10, 1 );
		add_action( 'wp_delete_application_password', array( __CLASS__, 'on_application_password_deleted' ), 10, 1 );
		// A new user is no change (and notifying would kill the tokens it is
		// about to get in the same second).
		add_filter( 'wp_pre_insert_user_data', array( __CLASS__, 'on_pre_insert_user_data' ), PHP_INT_MAX, 2 );
		add_action( 'user_register', array( __CLASS__, 'on_user_register' ), PHP_INT_MIN, 1 );
	}

	// ------------------------------------------------------------------
	// Hook callbacks: identity
	// ------------------------------------------------------------------

	/**
	 * determine_current_user: the asserted user when the header is valid,
	 * nobody when it is present but invalid, WordPress's own answer when it
	 * is absent.
	 *
	 * @param int|false $user_id What earlier callbacks decided.
	 * @return int|false
	 */
	public static function determine_current_user( $user_id ) {
		$verdict = self::verdict();
		if ( ! $verdict['present'] ) {
			return $user_id;
		}
		if ( $verdict['valid'] && $verdict['user_id'] > 0 ) {
			return $verdict['user_id'];
		}
		return false;
	}

	/**
	 * application_password_is_api_request: WordPress core never checks an
	 * application password (Basic credentials) itself while the bridge is
	 * installed. wpauthz verifies application passwords before PHP runs,
	 * with its throttles and rules, and removes the credentials it did not
	 * verify; if a proxy misconfiguration or a path around wpauthz lets
	 * Authorization through, core must not turn it into a user. Not even
	 * the presence of an assertion is asked: its absence is exactly what
	 * such a path looks like. WPAUTHZ_ALLOW_CORE_AUTH (true) restores
	 * core's behaviour for requests without an assertion.
	 *
	 * @param bool $is_api_request
	 * @return bool
	 */
	public static function application_password_is_api_request( $is_api_request ) {
		if ( null === self::raw_header() && self::core_auth_allowed() ) {
			return $is_api_request;
		}
		return false;
	}

	/**
	 * Whether WPAUTHZ_ALLOW_CORE_AUTH turns core's application-password
	 * authentication back on (for a site also reached around wpauthz).
	 *
	 * @return bool
	 */
	private static function core_auth_allowed() {
		return defined( 'WPAUTHZ_ALLOW_CORE_AUTH' ) && true === constant( 'WPAUTHZ_ALLOW_CORE_AUTH' );
	}

	/**
	 * rest_authentication_errors (priority 50): a refusal, or "authenticated"
	 * so that core's cookie/nonce check cannot reset the asserted user.
	 *
	 * @param WP_Error|null|true $result
	 * @return WP_Error|null|true
	 */
	public static function rest_authentication_errors( $result ) {
		$verdict = self::verdict();
		if ( ! $verdict['present'] ) {
			return $result;
		}
		if ( ! $verdict['valid'] ) {
			return self::rest_error();
		}
		if ( is_wp_error( $result ) ) {
			return $result; // another plugin refused the request: keep that
		}
		return true;
	}

	/**
	 * rest_authentication_errors (last): keeps a refusal a refusal.
	 *
	 * @param WP_Error|null|true $result
	 * @return WP_Error|null|true
	 */
	public static function rest_authentication_errors_final( $result ) {
		$verdict = self::verdict();
		if ( $verdict['present'] && ! $verdict['valid'] ) {
			return self::rest_error();
		}
		return $result;
	}

	/**
	 * wp_loaded: requests that are not served by the front controller
	 * (wp-admin, admin-ajax.php, wp-login.php, xmlrpc.php, wp-cron.php, …)
	 * can never become REST requests, so a bad assertion ends them here.
	 * Front-controller requests wait for parse_request, where WordPress
	 * decides whether they are REST.
	 */
	public static function on_wp_loaded() {
		if ( ! defined( 'WP_USE_THEMES' ) ) {
			self::end_if_refused();
		}
	}

	/**
	 * parse_request (after rest_api_loaded, which never returns for a REST
	 * request) and wp: this is not a REST request; a bad assertion ends it.
	 */
	public static function end_if_refused() {
		if ( defined( 'REST_REQUEST' ) && REST_REQUEST ) {
			return; // rest_authentication_errors answers
		}
		$verdict = self::verdict();
		if ( ! $verdict['present'] || $verdict['valid'] ) {
			return;
		}
		if ( ! headers_sent() ) {
			status_header( 401 );
			nocache_headers();
			header( 'Content-Type: application/json; charset=UTF-8' );
			header( 'X-Content-Type-Options: nosniff' );
		}
		echo wp_json_encode( // phpcs:ignore WordPress.Security.EscapeOutput -- JSON body
			array(
				'code'    => self::ERROR_CODE,
				'message' => self::ERROR_MESSAGE,
				'data'    => array( 'status' => 401 ),
			)
		);
		exit;
	}

	/**
	 * @return WP_Error
	 */
	private static function rest_error() {
		return new WP_Error( self::ERROR_CODE, self::ERROR_MESSAGE, array( 'status' => 401 ) );
	}

	// ------------------------------------------------------------------
	// Verification
	// ------------------------------------------------------------------

	/**
	 * The header as sent, or null when absent. An empty header counts as
	 * absent (it asserts nothing, and proxies send one when there is no
	 * identity). PHP CLI (WP-CLI, cron scripts) has no request header; a
	 * same-named environment variable is ignored.
	 *
	 * @return string|null
	 */
	private static function raw_header() {
		if ( 'cli' === PHP_SAPI || 'phpdbg' === PHP_SAPI ) {
			return null;
		}
		if ( ! isset( $_SERVER[ self::SERVER_KEY ] ) || ! is_string( $_SERVER[ self::SERVER_KEY ] ) ) {
			return null;
		}
		$raw = $_SERVER[ self::SERVER_KEY ]; // phpcs:ignore WordPress.Security.ValidatedSanitizedInput -- verified below, byte for byte
		return '' === $raw ? null : $raw;
	}

	/**
	 * The verdict on this request's header, computed once.
	 *
	 * @return array{present: bool, valid: bool, user_id: int}
	 */
	private static function verdict() {
		if ( null !== self::$verdict ) {
			return self::$verdict;
		}
		$raw = self::raw_header();
		if ( null === $raw ) {
			self::$verdict = array(
				'present' => false,
				'valid'   => false,
				'user_id' => 0,
			);
			return self::$verdict;
		}
		if ( self::$verifying ) {
			// Re-entered from a hook fired while verifying (e.g. while a
			// user is provisioned): nobody, for now; not memoized.
			return array(
				'present' => true,
				'valid'   => false,
				'user_id' => 0,
			);
		}
		self::$verifying = true;
		try {
			$user_id = self::verify( $raw );
		} catch ( Throwable $e ) {
			$user_id = new WP_Error( 'internal', 'internal error (' . get_class( $e ) . ')' );
		} finally {
			self::$verifying = false;
		}
		if ( is_wp_error( $user_id ) ) {
			self::log( 'refused an identity assertion: ' . $user_id->get_error_message() );
			self::$verdict = array(
				'present' => true,
				'valid'   => false,
				'user_id' => 0,
			);
		} else {
			self::$verdict = array(
				'present' => true,
				'valid'   => true,
				'user_id' => $user_id,
			);
		}
		return self::$verdict;
	}

	/**
	 * Verifies an assertion and resolves its WordPress user.
	 *
	 * @param string $raw The header value.
	 * @return int|WP_Error The user ID (0: a valid identity that is no WordPress user), or why not.
	 */
	private static function verify( $raw ) {
		if ( strlen( $raw ) > self::MAX_ASSERTION_BYTES ) {
			return self::fail( 'too large' );
		}
		if ( ! function_exists( 'sodium_crypto_sign_verify_detached' ) ) {
			self::log_once( 'sodium', 'PHP has no sodium extension: every identity assertion is refused' );
			return self::fail( 'no sodium' );
		}
		$keys = self::keys();
		if ( null === $keys ) {
			self::log_once( 'nokey', 'WPAUTHZ_PUBLIC_KEY is not defined: every identity assertion is refused' );
			return self::fail( 'no public key configured' );
		}
		if ( false === $keys ) {
			self::log_once( 'badkey', 'WPAUTHZ_PUBLIC_KEY is not a valid Ed25519 public key (or list of at most ' . self::MAX_KEYS . '): every identity assertion is refused' );
			return self::fail( 'public key misconfigured' );
		}

		// Compact JWS: exactly three base64url segments, no padding.
		$parts = explode( '.', $raw );
		if ( 3 !== count( $parts ) ) {
			return self::fail( 'malformed' );
		}
		$header_json = self::b64url_decode( $parts[0] );
		$claims_json = self::b64url_decode( $parts[1] );
		$signature   = self::b64url_decode( $parts[2] );
		if ( null === $header_json || null === $claims_json || null === $signature ) {
			return self::fail( 'malformed' );
		}

		// Protected header: alg and typ exact, nothing but alg/typ/kid (so
		// no crit, jku, jwk, x5u, x5c, b64, …).
		$header = self::json_object( $header_json );
		if ( null === $header ) {
			return self::fail( 'malformed header' );
		}
		foreach ( array_keys( $header ) as $name ) {
			if ( 'alg' !== $name && 'typ' !== $name && 'kid' !== $name ) {
				return self::fail( 'header parameter not allowed' );
			}
		}
		if ( ! isset( $header['alg'] ) || 'EdDSA' !== $header['alg'] ) {
			return self::fail( 'algorithm not allowed' );
		}
		if ( ! isset( $header['typ'] ) || self::TOKEN_TYPE !== $header['typ'] ) {
			return self::fail( 'type not allowed' );
		}
		$kid = null;
		if ( array_key_exists( 'kid', $header ) ) {
			if ( ! is_string( $header['kid'] ) || '' === $header['kid'] || strlen( $header['kid'] ) > 128 ) {
				return self::fail( 'malformed header' );
			}
			$kid = $header['kid'];
		}

		// Signature over the two encoded segments, as sent.
		if ( 64 !== strlen( $signature ) ) {
			return self::fail( 'signature' );
		}
		$candidates = $keys['keys'];
		if ( null !== $kid && $keys['by_kid'] ) {
			if ( ! array_key_exists( $kid, $candidates ) ) {
				return self::fail( 'unknown kid' );
			}
			$candidates = array( $candidates[ $kid ] );
		}
		$signed_input = $parts[0] . '.' . $parts[1];
		$verified     = false;
		foreach ( $candidates as $public_key ) {
			try {
				if ( sodium_crypto_sign_verify_detached( $signature, $signed_input, $public_key ) ) {
					$verified = true;
					break;
				}
			} catch ( SodiumException $e ) {
				continue;
			}
		}
		if ( ! $verified ) {
			return self::fail( 'signature' );
		}

		// Claims.
		$claims = self::json_object( $claims_json );
		if ( null === $claims ) {
			return self::fail( 'malformed claims' );
		}
		$sub = isset( $claims['sub'] ) ? $claims['sub'] : null;
		if ( ! is_string( $sub ) || '' === $sub || strlen( $sub ) > 512 ) {
			return self::fail( 'sub' );
		}
		$expected_host = self::audience();
		if ( '' === $expected_host ) {
			return self::fail( 'no host to compare aud with' );
		}
		if ( ! isset( $claims['aud'] ) || ! is_string( $claims['aud'] ) || ! hash_equals( $expected_host, $claims['aud'] ) ) {
			return self::fail( 'aud' );
		}
		$method = isset( $_SERVER['REQUEST_METHOD'] ) && is_string( $_SERVER['REQUEST_METHOD'] ) ? $_SERVER['REQUEST_METHOD'] : ''; // phpcs:ignore WordPress.Security.ValidatedSanitizedInput
		if ( ! isset( $claims['htm'] ) || ! is_string( $claims['htm'] ) || '' === $method || $claims['htm'] !== $method ) {
			return self::fail( 'htm' );
		}
		$uri  = isset( $_SERVER['REQUEST_URI'] ) && is_string( $_SERVER['REQUEST_URI'] ) ? $_SERVER['REQUEST_URI'] : ''; // phpcs:ignore WordPress.Security.ValidatedSanitizedInput
		$q    = strpos( $uri, '?' );
		$path = false === $q ? $uri : substr( $uri, 0, $q );
		if ( ! isset( $claims['htu'] ) || ! is_string( $claims['htu'] ) || '' === $path || $claims['htu'] !== $path ) {
			return self::fail( 'htu' );
		}
		if ( ! isset( $claims['iat'], $claims['exp'] ) || ! is_int( $claims['iat'] ) || ! is_int( $claims['exp'] ) ) {
			return self::fail( 'iat/exp' );
		}
		$iat = $claims['iat'];
		$exp = $claims['exp'];
		$now = time();
		if ( $exp <= $iat || $exp - $iat > self::MAX_TTL ) {
			return self::fail( 'lifetime' );
		}
		if ( $now >= $exp + self::LEEWAY ) {
			return self::fail( 'expired' );
		}
		if ( $iat > $now + self::LEEWAY ) {
			return self::fail( 'issued in the future' );
		}
		$jti = isset( $claims['jti'] ) ? $claims['jti'] : null;
		if ( ! is_string( $jti ) || 1 !== preg_match( '/\A[\x21-\x7e]{8,128}\z/', $jti ) ) {
			return self::fail( 'jti' );
		}
		$provision = null;
		if ( array_key_exists( 'wp_provision', $claims ) ) {
			if ( ! ( $claims['wp_provision'] instanceof stdClass ) ) {
				return self::fail( 'wp_provision' );
			}
			$provision = get_object_vars( $claims['wp_provision'] );
		}

		// Everything checks out: spend the jti (a replay fails here).
		$spent = self::spend_jti( $jti, $exp + self::LEEWAY );
		if ( is_wp_error( $spent ) ) {
			return $spent;
		}

		return self::resolve_user( $sub, $provision );
	}

	/**
	 * @param string $reason Short, for the log only.
	 * @return WP_Error
	 */
	private static function fail( $reason ) {
		return new WP_Error( 'invalid', $reason );
	}

	/**
	 * Strict base64url (RFC 4648 §5) without padding: only the URL alphabet,
	 * a possible length, and canonical (unused trailing bits zero).
	 *
	 * @param string $s
	 * @return string|null The bytes, or null.
	 */
	private static function b64url_decode( $s ) {
		if ( '' === $s || 1 === strlen( $s ) % 4 || 1 !== preg_match( '/\A[A-Za-z0-9_-]+\z/', $s ) ) {
			return null;
		}
		$bytes = base64_decode( strtr( $s, '-_', '+/' ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions
		if ( false === $bytes ) {
			return null;
		}
		if ( rtrim( strtr( base64_encode( $bytes ), '+/', '-_' ), '=' ) !== $s ) { // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions
			return null;
		}
		return $bytes;
	}

	/**
	 * Decodes a JSON object (not an array, not a scalar) into an array of
	 * its members; nested objects stay stdClass. Integers too large for PHP
	 * stay strings, so they fail the is_int checks instead of becoming
	 * floats.
	 *
	 * @param string $json
	 * @return array|null
	 */
	private static function json_object( $json ) {
		$value = json_decode( $json, false, 8, JSON_BIGINT_AS_STRING );
		if ( ! ( $value instanceof stdClass ) ) {
			return null;
		}
		return get_object_vars( $value );
	}

	/**
	 * The host the assertion's aud must equal: WPAUTHZ_HOST, else the
	 * request's Host without port, lowercased.
	 *
	 * @return string '' when unknown.
	 */
	private static function audience() {
		if ( defined( 'WPAUTHZ_HOST' ) ) {
			$host = constant( 'WPAUTHZ_HOST' );
			if ( ! is_string( $host ) || '' === trim( $host ) ) {
				self::log_once( 'badhost', 'WPAUTHZ_HOST is defined but not a non-empty string' );
				return '';
			}
			return strtolower( trim( $host ) );
		}
		if ( ! isset( $_SERVER['HTTP_HOST'] ) || ! is_string( $_SERVER['HTTP_HOST'] ) ) {
			return '';
		}
		return self::host_without_port( $_SERVER['HTTP_HOST'] ); // phpcs:ignore WordPress.Security.ValidatedSanitizedInput
	}

	/**
	 * The host as wpauthz addresses assertions: lower case, no port, an
	 * IPv6 literal's brackets kept, a trailing dot (FQDN form) dropped.
	 *
	 * @param string $host host[:port] or [v6]:port.
	 * @return string
	 */
	private static function host_without_port( $host ) {
		$host = strtolower( $host );
		if ( '' !== $host && '[' === $host[0] ) {
			$end = strpos( $host, ']' );
			return false === $end ? '' : substr( $host, 0, $end + 1 );
		}
		$colon = strrpos( $host, ':' );
		if ( false !== $colon ) {
			$host = substr( $host, 0, $colon );
		}
		return '.' === substr( $host, -1 ) ? substr( $host, 0, -1 ) : $host;
	}

	/**
	 * The configured public keys.
	 *
	 * @return array{by_kid: bool, keys: array<string|int,string>}|false|null
	 *         null: not configured; false: misconfigured.
	 */
	private static function keys() {
		if ( null !== self::$keys ) {
			return self::$keys;
		}
		if ( ! defined( 'WPAUTHZ_PUBLIC_KEY' ) ) {
			return null;
		}
		$config = constant( 'WPAUTHZ_PUBLIC_KEY' );
		if ( is_string( $config ) ) {
			$config = array( $config );
		}
		self::$keys = false;
		if ( ! is_array( $config ) || 0 === count( $config ) || count( $config ) > self::MAX_KEYS ) {
			return false;
		}
		$by_kid = true;
		$keys   = array();
		foreach ( $config as $kid => $value ) {
			if ( ! is_string( $kid ) || '' === $kid ) {
				$by_kid = false;
			}
			$key = self::parse_public_key( $value );
			if ( null === $key ) {
				return false;
			}
			$keys[ $kid ] = $key;
		}
		self::$keys = array(
			'by_kid' => $by_kid,
			'keys'   => $keys,
		);
		return self::$keys;
	}

	/**
	 * Reads an Ed25519 public key: base64 (standard or URL alphabet, padded
	 * or not) of the raw 32 bytes, or a PEM "PUBLIC KEY" (SPKI) block.
	 *
	 * @param mixed $value
	 * @return string|null The 32 raw bytes.
	 */
	private static function parse_public_key( $value ) {
		if ( ! is_string( $value ) ) {
			return null;
		}
		$value = trim( $value );
		if ( 0 === strpos( $value, '-----BEGIN' ) ) {
			if ( 1 !== preg_match( '/\A-----BEGIN PUBLIC KEY-----([A-Za-z0-9+\/=\s]+)-----END PUBLIC KEY-----\z/', $value, $m ) ) {
				return null;
			}
			$der = base64_decode( preg_replace( '/\s+/', '', $m[1] ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions
			$pre = hex2bin( self::SPKI_PREFIX_HEX );
			if ( false === $der || 44 !== strlen( $der ) || 0 !== strncmp( $der, $pre, 12 ) ) {
				return null;
			}
			return substr( $der, 12 );
		}
		if ( 1 !== preg_match( '/\A[A-Za-z0-9+\/_-]{43}={0,1}\z/', $value ) ) {
			return null;
		}
		$raw = base64_decode( strtr( rtrim( $value, '=' ), '-_', '+/' ), true ); // phpcs:ignore WordPress.PHP.DiscouragedPHPFunctions
		if ( false === $raw || 32 !== strlen( $raw ) ) {
			return null;
		}
		return $raw;
	}

	// ------------------------------------------------------------------
	// Replay protection
	// ------------------------------------------------------------------

	/**
	 * Records a jti as used, atomically, where that costs no write to the
	 * database; fails if it was used before.
	 *
	 * With a persistent object cache (Redis, Memcached drop-ins):
	 * wp_cache_add in a dedicated group, an atomic add-if-absent in such
	 * caches; a cache that cannot be reached refuses (fail closed). Else,
	 * with APCu: apcu_add, atomic across the php-fpm pool's workers (one
	 * server). Else nothing is recorded: the assertion is already bound to
	 * this host, method and path and dies within a minute, and a database
	 * write on every API request is a cost no site should pay for it (see
	 * wpauthz's docs/security.md).
	 *
	 * @param string $jti
	 * @param int    $until Unix time after which the assertion can no longer be accepted.
	 * @return true|WP_Error
	 */
	private static function spend_jti( $jti, $until ) {
		$id  = substr( hash( 'sha256', $jti ), 0, 40 );
		$ttl = max( 1, $until - time() + 1 );
		if ( function_exists( 'wp_using_ext_object_cache' ) && wp_using_ext_object_cache() ) {
			if ( wp_cache_add( $id, 1, self::JTI_GROUP, $ttl ) ) {
				return true;
			}
			return self::fail( 'jti replayed (or object cache unavailable)' );
		}
		if ( function_exists( 'apcu_add' ) && function_exists( 'apcu_enabled' ) && apcu_enabled() ) {
			if ( apcu_add( self::JTI_GROUP . ':' . $id, 1, $ttl ) ) {
				return true;
			}
			return self::fail( 'jti replayed' );
		}
		return true;
	}

	// ------------------------------------------------------------------
	// Users and provisioning
	// ------------------------------------------------------------------

	/**
	 * The WordPress user of a verified assertion.
	 *
	 * A numeric sub is a user ID and the user must exist. Any other sub is
	 * looked up in the wpauthz_subject usermeta; when no user has it and the
	 * assertion carries wp_provision, the user is created; otherwise the
	 * caller is a valid identity without a WordPress user (user 0).
	 *
	 * @param string     $sub
	 * @param array|null $provision
	 * @return int|WP_Error
	 */
	private static function resolve_user( $sub, $provision ) {
		if ( 1 === preg_match( '/\A[0-9]+\z/', $sub ) ) {
			if ( null !== $provision ) {
				return self::fail( 'wp_provision with a numeric sub' );
			}
			if ( '0' === $sub[0] || strlen( $sub ) > 18 ) {
				return self::fail( 'sub' );
			}
			$user = get_userdata( (int) $sub );
			if ( ! ( $user instanceof WP_User ) || ! $user->exists() ) {
				return self::fail( 'unknown user' );
			}
			self::seed_fingerprint( $user->ID, $user->user_pass );
			return (int) $user->ID;
		}

		$found = self::find_by_subject( $sub );
		if ( is_wp_error( $found ) ) {
			return $found;
		}
		if ( $found > 0 ) {
			return $found;
		}
		if ( null === $provision ) {
			return 0;
		}
		return self::provision( $sub, $provision );
	}

	/**
	 * The user whose wpauthz_subject is exactly $sub (MySQL's comparison is
	 * case- and trailing-space-insensitive, so candidates are compared again
	 * byte for byte).
	 *
	 * @param string $sub
	 * @return int|WP_Error 0 when none.
	 */
	private static function find_by_subject( $sub ) {
		global $wpdb;
		$rows = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT user_id, meta_value FROM {$wpdb->usermeta} WHERE meta_key = %s AND meta_value = %s ORDER BY user_id LIMIT 20",
				self::SUBJECT_META,
				$sub
			)
		);
		if ( ! is_array( $rows ) ) {
			return self::fail( 'user lookup failed' );
		}
		$ids = array();
		foreach ( $rows as $row ) {
			if ( is_string( $row->meta_value ) && $row->meta_value === $sub ) {
				$ids[ (int) $row->user_id ] = true;
			}
		}
		if ( count( $ids ) > 1 ) {
			self::log( 'several users have the same wpauthz_subject; refusing (user IDs ' . implode( ',', array_keys( $ids ) ) . ')' );
			return self::fail( 'ambiguous subject' );
		}
		foreach ( array_keys( $ids ) as $id ) {
			$user = get_userdata( $id );
			if ( $user instanceof WP_User && $user->exists() ) {
				self::seed_fingerprint( $user->ID, $user->user_pass );
				return (int) $user->ID;
			}
		}
		return 0;
	}

	/**
	 * Creates the user an assertion asks for, under a database lock so that
	 * two first requests of the same (or another) new subject cannot both
	 * create one.
	 *
	 * @param string $sub
	 * @param array  $p The wp_provision claim.
	 * @return int|WP_Error
	 */
	private static function provision( $sub, array $p ) {
		global $wpdb;
		$login   = isset( $p['login'] ) ? $p['login'] : null;
		$role    = isset( $p['role'] ) ? $p['role'] : null;
		$email   = isset( $p['email'] ) ? $p['email'] : '';
		$display = isset( $p['display_name'] ) ? $p['display_name'] : '';
		if ( ! is_string( $login ) || '' === $login || strlen( $login ) > 60
			|| sanitize_user( $login, true ) !== $login || ! validate_username( $login ) ) {
			return self::fail( 'provisioning: login' );
		}
		if ( ! is_string( $email ) || strlen( $email ) > 100 || ( '' !== $email && is_email( $email ) !== $email ) ) {
			return self::fail( 'provisioning: email' );
		}
		if ( ! is_string( $display ) || strlen( $display ) > 250 ) {
			return self::fail( 'provisioning: display_name' );
		}
		if ( ! is_string( $role ) || '' === $role ) {
			return self::fail( 'provisioning: role' );
		}
		$role_object = get_role( $role );
		if ( ! ( $role_object instanceof WP_Role ) ) {
			return self::fail( 'provisioning: role does not exist' );
		}
		if ( self::is_privileged_role( $role_object ) && ! ( defined( 'WPAUTHZ_PROVISION_ALLOW_ADMIN' ) && true === constant( 'WPAUTHZ_PROVISION_ALLOW_ADMIN' ) ) ) {
			self::log( 'refused to provision a user with the administrator-level role "' . $role . '" (define WPAUTHZ_PROVISION_ALLOW_ADMIN to allow)' );
			return self::fail( 'provisioning: privileged role' );
		}

		$lock   = 'wpauthz_prov_' . substr( hash( 'sha256', ( defined( 'DB_NAME' ) ? (string) DB_NAME : '' ) . '|' . $wpdb->base_prefix ), 0, 40 );
		$locked = $wpdb->get_var( $wpdb->prepare( 'SELECT GET_LOCK(%s, %d)', $lock, self::PROVISION_LOCK_WAIT ) );
		if ( '1' !== (string) $locked ) {
			return self::fail( 'provisioning: lock not acquired' );
		}
		try {
			$found = self::find_by_subject( $sub ); // another request may have won
			if ( is_wp_error( $found ) || $found > 0 ) {
				return $found;
			}
			self::$provisioning = true;
			$userdata = array(
				'user_login' => $login,
				'user_pass'  => wp_generate_password( 40, true, true ),
				'user_email' => $email,
				'role'       => $role,
				'meta_input' => array( self::SUBJECT_META => $sub ),
			);
			if ( '' !== $display ) {
				$userdata['display_name'] = $display;
			}
			$user_id = wp_insert_user( $userdata );
			if ( is_wp_error( $user_id ) ) {
				// existing_user_login, existing_user_email, …: never attach
				// the subject to an existing account by login or email.
				return self::fail( 'provisioning: ' . $user_id->get_error_code() );
			}
			$user_id = (int) $user_id;
			$user    = get_userdata( $user_id );
			if ( $user instanceof WP_User ) {
				self::seed_fingerprint( $user_id, $user->user_pass, true );
			}
			self::log( 'provisioned user ' . $user_id . ' with role "' . $role . '"' );
			return $user_id;
		} finally {
			self::$provisioning = false;
			$wpdb->query( $wpdb->prepare( 'SELECT RELEASE_LOCK(%s)', $lock ) );
		}
	}

	/**
	 * @param WP_Role $role
	 * @return bool
	 */
	private static function is_privileged_role( $role ) {
		if ( 'administrator' === $role->name ) {
			return true;
		}
		foreach ( self::PRIVILEGED_CAPS as $cap ) {
			if ( $role->has_cap( $cap ) ) {
				return true;
			}
		}
		return false;
	}

	// ------------------------------------------------------------------
	// Hook callbacks: notifications
	// ------------------------------------------------------------------

	/**
	 * password_reset (before the new password is set): remember that the
	 * coming change is a reset.
	 *
	 * @param WP_User $user
	 */
	public static function on_password_reset( $user ) {
		if ( $user instanceof WP_User ) {
			self::$resetting[ (int) $user->ID ] = true;
		}
	}

	/**
	 * @param WP_User $user
	 */
	public static function on_after_password_reset( $user ) {
		if ( $user instanceof WP_User ) {
			self::notify( (int) $user->ID, 'password_reset' );
		}
	}

	/**
	 * profile_update: notifies when user_pass changed.
	 *
	 * @param int     $user_id
	 * @param WP_User $old_user_data
	 */
	public static function on_profile_update( $user_id, $old_user_data = null ) {
		$user_id = (int) $user_id;
		if ( ! ( $old_user_data instanceof WP_User ) ) {
			return;
		}
		$current = self::stored_user_pass( $user_id );
		if ( null !== $current && ! hash_equals( (string) $old_user_data->user_pass, $current ) ) {
			self::notify( $user_id, 'password_changed' );
		}
	}

	/**
	 * wp_set_password (WordPress >= 6.2 only).
	 *
	 * @param string $password Not used, never logged.
	 * @param int    $user_id
	 */
	public static function on_wp_set_password( $password, $user_id = 0 ) {
		self::notify( (int) $user_id, 'password_changed' );
	}

	/**
	 * clean_user_cache: WordPress 6.1's wp_set_password() fires no hook of
	 * its own but always cleans the user cache, so the stored fingerprint of
	 * user_pass is compared with the database. No fingerprint yet (a user
	 * wpauthz has not seen, changed for the first time since the plugin was
	 * installed) notifies too: a spurious notification only makes a user
	 * log in again, a missed one leaves a stolen token alive.
	 *
	 * @param int $user_id
	 */
	public static function on_clean_user_cache( $user_id ) {
		$user_id = (int) $user_id;
		if ( $user_id <= 0 || self::$fingerprinting ) {
			return;
		}
		self::$fingerprinting = true;
		try {
			$pass = self::stored_user_pass( $user_id );
			if ( null === $pass ) {
				return; // being deleted: the delete hooks notify
			}
			$fingerprint = self::fingerprint( $pass );
			$stored      = get_user_meta( $user_id, self::PASS_FP_META, true );
			if ( is_string( $stored ) && '' !== $stored && hash_equals( $stored, $fingerprint ) ) {
				return;
			}
			update_user_meta( $user_id, self::PASS_FP_META, $fingerprint );
			self::notify( $user_id, ( is_string( $stored ) && '' !== $stored ) ? 'password_changed' : 'user_changed' );
		} finally {
			self::$fingerprinting = false;
		}
	}

	/**
	 * set_user_role, add_user_role, remove_user_role.
	 *
	 * @param int $user_id
	 */
	public static function on_role_change( $user_id ) {
		self::notify( (int) $user_id, 'role_changed' );
	}

	/**
	 * delete_user, deleted_user, wpmu_delete_user.
	 *
	 * @param int $user_id
	 */
	public static function on_user_deleted( $user_id ) {
		self::notify( (int) $user_id, 'user_deleted' );
	}

	/**
	 * wp_delete_application_password (also fired per password by "revoke all").
	 *
	 * @param int $user_id
	 */
	public static function on_application_password_deleted( $user_id ) {
		self::notify( (int) $user_id, 'application_password_revoked' );
	}

	/**
	 * wp_pre_insert_user_data: a new user is about to be inserted.
	 *
	 * @param array $data
	 * @param bool  $update
	 * @return array
	 */
	public static function on_pre_insert_user_data( $data, $update = false ) {
		global $wpdb;
		if ( ! $update && $wpdb instanceof wpdb ) {
			self::$creating_above = (int) $wpdb->get_var( "SELECT MAX(ID) FROM {$wpdb->users}" );
		}
		return $data;
	}

	/**
	 * user_register (first): the new user exists; later changes count.
	 */
	public static function on_user_register() {
		self::$creating_above = null;
	}

	/**
	 * user_pass straight from the database (the cache may be stale).
	 *
	 * @param int $user_id
	 * @return string|null null when the user does not exist.
	 */
	private static function stored_user_pass( $user_id ) {
		global $wpdb;
		if ( ! ( $wpdb instanceof wpdb ) ) {
			return null;
		}
		$pass = $wpdb->get_var( $wpdb->prepare( "SELECT user_pass FROM {$wpdb->users} WHERE ID = %d", $user_id ) );
		return is_string( $pass ) ? $pass : null;
	}

	/**
	 * A fingerprint of a password hash: enough to notice a change, useless
	 * for anything else (it is a hash of a salted hash).
	 *
	 * @param string $user_pass
	 * @return string
	 */
	private static function fingerprint( $user_pass ) {
		return substr( hash( 'sha256', 'wpauthz-pass-fp|' . $user_pass ), 0, 32 );
	}

	/**
	 * Stores the fingerprint of a user wpauthz vouches for, if none yet, so
	 * that later changes are told apart from "first sight".
	 *
	 * @param int    $user_id
	 * @param string $user_pass
	 * @param bool   $overwrite
	 */
	private static function seed_fingerprint( $user_id, $user_pass, $overwrite = false ) {
		if ( ! is_string( $user_pass ) ) {
			return;
		}
		$fingerprint = self::fingerprint( $user_pass );
		if ( $overwrite ) {
			update_user_meta( $user_id, self::PASS_FP_META, $fingerprint );
			return;
		}
		$stored = get_user_meta( $user_id, self::PASS_FP_META, true );
		if ( '' === $stored ) {
			add_user_meta( $user_id, self::PASS_FP_META, $fingerprint, true );
		}
	}

	/**
	 * Tells wpauthz that a user's credentials changed, at most once per user
	 * per request, blocking (so that "changed, then notified" holds when the
	 * request or script returns).
	 *
	 * POST WPAUTHZ_NOTIFY_URL, body {"host","user_id","event"}, header
	 * X-WPAuthz-Signature: t=<unix>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>.
	 *
	 * @param int    $user_id
	 * @param string $event One of EVENTS.
	 */
	private static function notify( $user_id, $event ) {
		if ( $user_id <= 0 || self::$provisioning || isset( self::$notified[ $user_id ] ) ) {
			return;
		}
		if ( null !== self::$creating_above && $user_id > self::$creating_above ) {
			return; // the user being created
		}
		if ( ! defined( 'WPAUTHZ_NOTIFY_URL' ) ) {
			return; // notifications not configured
		}
		self::$notified[ $user_id ] = true;
		if ( isset( self::$resetting[ $user_id ] ) && ( 'password_changed' === $event || 'user_changed' === $event ) ) {
			$event = 'password_reset';
		}
		if ( ! in_array( $event, self::EVENTS, true ) ) {
			$event = 'user_changed';
		}
		$url = constant( 'WPAUTHZ_NOTIFY_URL' );
		if ( ! is_string( $url ) || '' === $url ) {
			self::log_once( 'badurl', 'WPAUTHZ_NOTIFY_URL is not a non-empty string: notifications are not sent' );
			return;
		}
		$key = defined( 'WPAUTHZ_NOTIFY_KEY' ) ? constant( 'WPAUTHZ_NOTIFY_KEY' ) : null;
		if ( ! is_string( $key ) || strlen( $key ) < 32 ) {
			self::log_once( 'badnotifykey', 'WPAUTHZ_NOTIFY_KEY is missing or shorter than 32 bytes: notifications are not sent' );
			return;
		}
		$host = self::site_host();
		if ( '' === $host ) {
			self::log_once( 'nohost', 'cannot tell this site\'s host (define WPAUTHZ_HOST): notifications are not sent' );
			return;
		}
		$body      = (string) wp_json_encode(
			array(
				'host'    => $host,
				'user_id' => $user_id,
				'event'   => $event,
			)
		);
		$t         = time();
		$signature = hash_hmac( 'sha256', $t . '.' . $body, $key );
		$response  = wp_remote_post(
			$url,
			array(
				'timeout'     => self::NOTIFY_TIMEOUT,
				'redirection' => 0,
				'blocking'    => true,
				'user-agent'  => 'wpauthz-bridge/1.0',
				'headers'     => array(
					'Content-Type'        => 'application/json',
					'X-WPAuthz-Signature' => 't=' . $t . ',v1=' . $signature,
				),
				'body'        => $body,
			)
		);
		$what = 'notification ' . $event . ' for user ' . $user_id;
		if ( is_wp_error( $response ) ) {
			self::log( $what . ' failed: ' . $response->get_error_message() );
			return;
		}
		$status = (int) wp_remote_retrieve_response_code( $response );
		if ( $status < 200 || $status >= 300 ) {
			self::log( $what . ' failed: HTTP ' . $status );
		}
	}

	/**
	 * This site's host for notifications: WPAUTHZ_HOST, else home_url()'s
	 * host (never the request's Host header, which the client chooses).
	 *
	 * @return string
	 */
	private static function site_host() {
		if ( defined( 'WPAUTHZ_HOST' ) ) {
			$host = constant( 'WPAUTHZ_HOST' );
			return is_string( $host ) ? strtolower( trim( $host ) ) : '';
		}
		$host = wp_parse_url( home_url(), PHP_URL_HOST );
		return is_string( $host ) ? strtolower( $host ) : '';
	}

	// ------------------------------------------------------------------
	// Logging (never key material, never the assertion)
	// ------------------------------------------------------------------

	/**
	 * @param string $message
	 */
	private static function log( $message ) {
		error_log( 'wpauthz-bridge: ' . $message ); // phpcs:ignore WordPress.PHP.DevelopmentFunctions
	}

	/**
	 * @param string $id
	 * @param string $message
	 */
	private static function log_once( $id, $message ) {
		if ( ! isset( self::$logged[ $id ] ) ) {
			self::$logged[ $id ] = true;
			self::log( $message );
		}
	}
}

WPAuthz_Bridge::boot();
