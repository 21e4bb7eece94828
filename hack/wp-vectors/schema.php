<?php
/*
 * Prints WordPress's own table definitions (wp-admin/includes/schema.php,
 * wp_get_db_schema) for the MariaDB tests in test/mariadbtest:
 *
 *   - a single site with table prefix "wp_";
 *   - a network (multisite) with base prefix "ms_": the global tables
 *     (users with spam/deleted, usermeta, blogs, site, sitemeta, ...),
 *     the main site's tables ("ms_") and blog 2's ("ms_2_").
 *
 * Usage: php hack/wp-vectors/schema.php [WordPress dir] > test/mariadbtest/testdata/wordpress-schema.sql
 * (make wp-vectors). schema.php is loaded with a stand-in for $wpdb that
 * only names tables and the charset, so no database is needed.
 */

$wp = $argv[1] ?? '/usr/share/wordpress';
define( 'ABSPATH', rtrim( $wp, '/' ) . '/' );
define( 'WPINC', 'wp-includes' );
require ABSPATH . WPINC . '/version.php';

$GLOBALS['multisite'] = false;
function is_multisite() {
	return $GLOBALS['multisite'];
}

class SchemaDB {
	public $blogid = 1;
	public $base_prefix;
	public $prefix;
	public function __construct( $base ) {
		$this->base_prefix = $base;
		$this->set_blog_id( 1 );
	}
	public function get_charset_collate() {
		return 'DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci';
	}
	public function set_blog_id( $id ) {
		$old          = $this->blogid;
		$this->blogid = $id;
		$this->prefix = $id > 1 ? $this->base_prefix . $id . '_' : $this->base_prefix;
		foreach ( array( 'posts', 'comments', 'links', 'options', 'postmeta', 'terms', 'term_taxonomy', 'term_relationships', 'termmeta', 'commentmeta' ) as $t ) {
			$this->$t = $this->prefix . $t;
		}
		foreach ( array( 'users', 'usermeta', 'blogs', 'blogmeta', 'registration_log', 'site', 'sitemeta', 'signups' ) as $t ) {
			$this->$t = $this->base_prefix . $t;
		}
		return $old;
	}
}

$wpdb = new SchemaDB( 'wp_' );
require ABSPATH . 'wp-admin/includes/schema.php';

echo "-- WordPress $wp_version schema, from wp-admin/includes/schema.php (hack/wp-vectors/schema.php).\n";
echo "-- Single site, prefix wp_.\n";
echo wp_get_db_schema( 'all' ), "\n";

$GLOBALS['multisite'] = true;
$wpdb = new SchemaDB( 'ms_' );
echo "-- Network, base prefix ms_: global tables and the main site.\n";
echo wp_get_db_schema( 'all' ), "\n";
echo "-- Network: blog 2.\n";
echo wp_get_db_schema( 'blog', 2 ), "\n";
