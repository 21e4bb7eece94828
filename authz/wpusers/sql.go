package wpusers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// SQLConfig locates a WordPress site in a MySQL/MariaDB database.
type SQLConfig struct {
	// DSN is a go-sql-driver/mysql data source name
	// ("user:pass@tcp(host:3306)/wordpress"). Secret: never log it.
	DSN string
	// TablePrefix is $table_prefix from wp-config.php ("wp_").
	TablePrefix string
	// Multisite is true for a WordPress network (wp_users has spam and
	// deleted columns, using_application_passwords lives in sitemeta).
	Multisite bool
	// BlogID is the site within a network whose roles apply (1 for the
	// main site and for single-site installs).
	BlogID int64
	// MaxOpenConns bounds the connections to the database (default 4).
	MaxOpenConns int
}

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// SQL is a read-only Source over WordPress's own tables.
type SQL struct {
	db *sql.DB

	qByName, qByID, qMeta, qInUse, qRoles string
	qFormats, qAppFormats                 string
	capsKey, rolesOption                  string
	multisite                             bool
}

// OpenSQL prepares a source. It does not connect: the first query does,
// so a database that is down at start-up is an error per look-up
// (ErrUnavailable), not a policy that cannot load.
func OpenSQL(cfg SQLConfig) (*SQL, error) {
	if !prefixRE.MatchString(cfg.TablePrefix) {
		return nil, fmt.Errorf("wpusers: table prefix %q: want letters, digits and underscores", cfg.TablePrefix)
	}
	if cfg.BlogID < 1 {
		cfg.BlogID = 1
	}
	if cfg.BlogID > 1 && !cfg.Multisite {
		return nil, errors.New("wpusers: a blog ID other than 1 needs multisite")
	}
	mc, err := mysql.ParseDSN(cfg.DSN)
	if err != nil {
		return nil, errors.New("wpusers: the database DSN does not parse") // never echo the DSN
	}
	// Bounded waits on every connection, whatever the DSN says; the
	// per-query context deadline bounds the rest.
	if mc.Timeout == 0 || mc.Timeout > 5*time.Second {
		mc.Timeout = 5 * time.Second
	}
	if mc.ReadTimeout == 0 || mc.ReadTimeout > 10*time.Second {
		mc.ReadTimeout = 10 * time.Second
	}
	if mc.WriteTimeout == 0 || mc.WriteTimeout > 10*time.Second {
		mc.WriteTimeout = 10 * time.Second
	}
	// WordPress stores UTF-8 (utf8mb4 since 4.2) and compares logins with
	// the tables' case-insensitive collation; the driver must not
	// interpret anything else.
	mc.ParseTime = false
	mc.InterpolateParams = false
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, errors.New("wpusers: the database DSN is not usable")
	}
	db := sql.OpenDB(conn)
	n := cfg.MaxOpenConns
	if n <= 0 {
		n = 4
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(5 * time.Minute)
	db.SetConnMaxIdleTime(time.Minute)

	p := cfg.TablePrefix
	// The blog's own prefix: "wp_" for blog 1, "wp_2_" for blog 2 (as
	// wpdb::get_blog_prefix). Users and user meta are global.
	blogPrefix := p
	if cfg.BlogID > 1 {
		blogPrefix = p + strconv.FormatInt(cfg.BlogID, 10) + "_"
	}
	cols := "ID, user_login, user_pass, user_nicename, user_email, display_name, 0"
	if cfg.Multisite {
		cols = "ID, user_login, user_pass, user_nicename, user_email, display_name, spam"
	}
	s := &SQL{
		db:          db,
		multisite:   cfg.Multisite,
		capsKey:     blogPrefix + "capabilities",
		rolesOption: blogPrefix + "user_roles",
		// One round trip for "login, else email": the login match sorts
		// first, so a user whose email is someone else's login never
		// shadows that login.
		qByName: "SELECT " + cols + " FROM `" + p + "users` WHERE user_login = ? OR (? AND user_email = ?) ORDER BY user_login = ? DESC, ID ASC LIMIT 1",
		qByID:   "SELECT " + cols + " FROM `" + p + "users` WHERE ID = ?",
		qMeta:   "SELECT meta_key, meta_value FROM `" + p + "usermeta` WHERE user_id = ? AND meta_key IN (?, '_application_passwords') ORDER BY umeta_id",
		// Byte-wise, so the tables' case-insensitive collation cannot
		// merge formats.
		qFormats:    "SELECT DISTINCT LEFT(CAST(user_pass AS BINARY), 10), LENGTH(user_pass) FROM `" + p + "users`",
		qAppFormats: "SELECT meta_value FROM `" + p + "usermeta` WHERE meta_key = '_application_passwords'",
	}
	if cfg.Multisite {
		// get_network_option on the main network (ID 1).
		s.qInUse = "SELECT meta_value FROM `" + p + "sitemeta` WHERE site_id = 1 AND meta_key = 'using_application_passwords' ORDER BY meta_id LIMIT 1"
	} else {
		s.qInUse = "SELECT option_value FROM `" + p + "options` WHERE option_name = 'using_application_passwords' LIMIT 1"
	}
	s.qRoles = "SELECT option_value FROM `" + blogPrefix + "options` WHERE option_name = ? LIMIT 1"
	return s, nil
}

// Close closes the connection pool.
func (s *SQL) Close() error { return s.db.Close() }

// Ping checks that the database answers (readiness, tests).
func (s *SQL) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *SQL) FindByName(ctx context.Context, name string) (*User, error) {
	email := looksLikeEmail(name)
	u, err := s.find(ctx, s.qByName, name, email, name, name)
	if errors.Is(err, ErrNotFound) {
		// The round trips a found user costs (meta, registered roles), so
		// that the database's answer time does not tell who exists.
		if err := s.meta(ctx, &User{}, true); err != nil {
			return nil, err
		}
	}
	return u, err
}

func (s *SQL) FindByID(ctx context.Context, id int64) (*User, error) {
	return s.find(ctx, s.qByID, id)
}

func (s *SQL) find(ctx context.Context, q string, args ...any) (*User, error) {
	u := &User{}
	var spam sql.NullInt64
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&u.ID, &u.Login, &u.PassHash, &u.Nicename, &u.Email, &u.DisplayName, &spam)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading user: %v", ErrUnavailable, err)
	}
	u.Spam = spam.Int64 != 0
	if err := s.meta(ctx, u, false); err != nil {
		return nil, err
	}
	return u, nil
}

// meta fills roles and application passwords. withRoles reads the
// registered roles even when u has no capabilities (the not-found path's
// equal work).
func (s *SQL) meta(ctx context.Context, u *User, withRoles bool) error {
	rows, err := s.db.QueryContext(ctx, s.qMeta, u.ID, s.capsKey)
	if err != nil {
		return fmt.Errorf("%w: reading user meta: %v", ErrUnavailable, err)
	}
	defer rows.Close()
	var caps, apps sql.NullString
	for rows.Next() {
		var k string
		var v sql.NullString
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("%w: reading user meta: %v", ErrUnavailable, err)
		}
		// get_user_meta(..., true) returns the first row of a key.
		switch {
		case k == s.capsKey && !caps.Valid:
			caps = v
		case k == "_application_passwords" && !apps.Valid:
			apps = v
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: reading user meta: %v", ErrUnavailable, err)
	}
	if (caps.Valid && caps.String != "") || withRoles {
		registered, err := s.registeredRoles(ctx)
		if err != nil {
			return err
		}
		if caps.Valid {
			u.Roles = rolesFrom(caps.String, registered)
		}
	}
	if apps.Valid && apps.String != "" {
		// A corrupt meta value makes WordPress see no passwords.
		u.AppPasswords, _ = parseAppPasswords(apps.String)
	}
	return nil
}

// registeredRoles reads the {blog prefix}user_roles option: the role
// names WP_Roles knows (WP_User keeps only capability keys that are roles).
func (s *SQL) registeredRoles(ctx context.Context) (map[string]bool, error) {
	var v sql.NullString
	err := s.db.QueryRowContext(ctx, s.qRoles, s.rolesOption).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading %s: %v", ErrUnavailable, s.rolesOption, err)
	}
	return parseRoleNames(v.String), nil
}

func (s *SQL) AppPasswordsInUse(ctx context.Context) (bool, error) {
	var v sql.NullString
	err := s.db.QueryRowContext(ctx, s.qInUse).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: reading using_application_passwords: %v", ErrUnavailable, err)
	}
	// The option holds maybe_serialize(true) = "1"; (bool) of the
	// unserialized value decides.
	val := phpValue(v.String)
	if pv, err := phpUnserialize(v.String); err == nil {
		val = pv
	}
	return phpTruthy(val), nil
}

func (s *SQL) HashFormats(ctx context.Context) (HashFormats, error) {
	var f HashFormats
	rows, err := s.db.QueryContext(ctx, s.qFormats)
	if err != nil {
		return f, fmt.Errorf("%w: reading the password formats: %v", ErrUnavailable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var prefix []byte
		var n int
		if err := rows.Scan(&prefix, &n); err != nil {
			return f, fmt.Errorf("%w: reading the password formats: %v", ErrUnavailable, err)
		}
		f.Passwords = append(f.Passwords, formatOf(string(prefix), n))
	}
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("%w: reading the password formats: %v", ErrUnavailable, err)
	}
	apps, err := s.db.QueryContext(ctx, s.qAppFormats)
	if err != nil {
		return f, fmt.Errorf("%w: reading the application password formats: %v", ErrUnavailable, err)
	}
	defer apps.Close()
	for apps.Next() {
		var v sql.NullString
		if err := apps.Scan(&v); err != nil {
			return f, fmt.Errorf("%w: reading the application password formats: %v", ErrUnavailable, err)
		}
		list, _ := parseAppPasswords(v.String)
		for _, ap := range list {
			if !strings.HasPrefix(ap.Hash, "$generic$") {
				f.AppPasswords = append(f.AppPasswords, hashFormat(ap.Hash))
			}
		}
	}
	if err := apps.Err(); err != nil {
		return f, fmt.Errorf("%w: reading the application password formats: %v", ErrUnavailable, err)
	}
	return f, nil
}

// parseRoleNames reads the keys of a serialized user_roles option. nil
// (unknown) when it does not parse.
func parseRoleNames(serialized string) map[string]bool {
	v, err := phpUnserialize(serialized)
	if err != nil {
		return nil
	}
	a, ok := v.(*phpArray)
	if !ok {
		return nil
	}
	out := make(map[string]bool, len(a.keys))
	for _, k := range a.keys {
		ks, _ := phpString(k)
		out[ks] = true
	}
	return out
}

// rolesFrom is WP_User::get_role_caps' role list: the capability keys
// that are registered roles, whatever their value (WordPress ignores it
// for roles). When the registered roles are unknown (no user_roles
// option), granted keys count instead: a site without the option has no
// roles WordPress could check, and this keeps only what was explicitly
// granted.
func rolesFrom(caps string, registered map[string]bool) []string {
	keys, granted, err := capabilityKeys(caps)
	if err != nil {
		return nil
	}
	var roles []string
	for i, k := range keys {
		if registered != nil {
			if registered[k] {
				roles = append(roles, k)
			}
		} else if granted[i] {
			roles = append(roles, k)
		}
	}
	return roles
}
