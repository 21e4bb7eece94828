package tokenflow

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/authz/wpusers"
	"github.com/wpauthz/wpauthz/test/mariadbtest"
)

// The demo users (config/samples/local/users.yaml) in a real MariaDB with
// WordPress's schema: admin and sam in 6.8's "$wp$" bcrypt, jane in phpass
// with a "$generic$" application password.
const (
	demoRoles   = `a:3:{s:13:"administrator";a:0:{}s:6:"editor";a:0:{}s:10:"subscriber";a:0:{}}`
	janeAppMeta = `a:1:{i:0;a:3:{s:4:"uuid";s:36:"6f1e2c3a-1b2c-4d5e-8f90-0a1b2c3d4e5f";s:4:"name";s:6:"laptop";s:8:"password";s:50:"$generic$VbqhfQOT_VfaFmt_p27nedVhgUdnEi-dOUZamH4W";}}`
)

func seedDemo(b *testing.B, db *mariadbtest.Server) {
	db.Exec(b, "INSERT INTO wp_options (option_name, option_value, autoload) VALUES ('wp_user_roles', ?, 'yes'), ('using_application_passwords', '1', 'no')", demoRoles)
	for _, u := range []struct {
		id                int64
		login, pass, role string
	}{
		{1, "admin", "$wp$2y$10$YsFNDB8EwXEBFeSgpVt9CeiZLdpwl0UCGD4ebmbJYRQf9IMuERgh.", "administrator"},
		{2, "jane", "$P$BENjqcPbzYDNUxRA8OEPipqowgTNSh/", "editor"},
		{3, "sam", "$wp$2y$10$2gdaNdJnRobmxVt0g4itsOGYKKEc973iuOUgc/yAfQK9wlSkgtVjC", "subscriber"},
	} {
		db.Exec(b, "INSERT INTO wp_users (ID, user_login, user_pass, user_nicename, user_email, user_registered, display_name) VALUES (?, ?, ?, ?, ?, NOW(), ?)",
			u.id, u.login, u.pass, u.login, u.login+"@example.com", u.login)
		db.Exec(b, "INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES (?, 'wp_capabilities', ?)", u.id, fmt.Sprintf(`a:1:{s:%d:"%s";b:1;}`, len(u.role), u.role))
	}
	db.Exec(b, "INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES (2, '_application_passwords', ?)", janeAppMeta)
}

// timingEdit turns the throttles off (the benchmark fails thousands of
// logins on purpose) and, with a DSN, reads the users from MariaDB.
func timingEdit(dsn string) func(*policy.Bundle) {
	return func(b *policy.Bundle) {
		zero := int32(0)
		p := &b.Policies[0]
		p.Spec.Throttle.Login.MaxFailuresPerUser = &zero
		p.Spec.Throttle.Login.MaxFailuresPerClient = &zero
		if dsn == "" {
			return
		}
		p.Spec.WordPress.UsersSecretRef = nil
		p.Spec.WordPress.DatabaseSecretRef = &v1alpha1.SecretKeySelector{Name: "timing-db", Key: "dsn"}
		b.Secrets = append(b.Secrets, corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "timing-db", Namespace: "default"},
			Data:       map[string][]byte{"dsn": []byte(dsn)},
		})
	}
}

// timingCase is one attempt shape: a failed attempt by an existing user
// against the same attempt by an unknown one, each after an optional
// attempt by another user (the one before must not change the work).
type timingCase struct {
	name, user, secret, before string
}

var timingCases = []timingCase{
	{"wrong-password/jane-phpass", "jane", "wrong-password", ""},
	{"wrong-password/admin-bcrypt", "admin", "wrong-password", ""},
	{"wrong-password/sam-bcrypt", "sam", "wrong-password", ""},
	{"empty/jane", "jane", "", ""},
	{"zero/jane", "jane", "0", ""},
	{"zero/admin", "admin", "0", ""},
	{"spaces/jane", "jane", "   ", ""},
	{"spaces/admin", "admin", "   ", ""},
	{"app-password-shape/jane", "jane", "abcd EFGH ijkl MNOP qrst UVWx", ""},
	{"app-password-shape/admin", "admin", "abcd EFGH ijkl MNOP qrst UVWx", ""},
	{"after-phpass-user/admin", "admin", "wrong-password", "jane"},
	{"after-bcrypt-user/jane", "jane", "wrong-password", "admin"},
}

// BenchmarkHardening4_Timing measures what user enumeration by timing
// would: for each attempt shape, on the login endpoint and Basic on the
// check path, with the demo users in the static file and in MariaDB, the
// median time of a failed attempt by an existing user and by an unknown
// one, interleaved, and their ratio (target 0.95–1.05). Run with
// -benchtime=NNx: each iteration is one attempt of each.
//
//	go test ./test/tokenflow -run '^$' -bench Hardening4 -benchtime=40x
func BenchmarkHardening4_Timing(b *testing.B) {
	for _, dir := range []string{"static", "mariadb"} {
		b.Run(dir, func(b *testing.B) {
			dsn := ""
			if dir == "mariadb" {
				db := mariadbtest.Start(b)
				seedDemo(b, db)
				dsn = db.DSN
			}
			e := newEnv(b, timingEdit(dsn))
			attempt := map[string]func(user, secret string){
				"login": func(user, secret string) {
					r := e.login(user, secret)
					if r.status != 401 && !(secret == "" && r.status == 400) {
						b.Fatalf("login %s: %d %s", user, r.status, r.body)
					}
				},
				"basic": func(user, secret string) {
					if r := e.check("GET", "/wp-json/wp/v2/users/me", basic(user, secret)); r.status != 401 {
						b.Fatalf("basic %s: %d %s", user, r.status, r.body)
					}
				},
			}
			for _, path := range []string{"login", "basic"} {
				try := attempt[path]
				for _, c := range timingCases {
					b.Run(path+"/"+c.name, func(b *testing.B) {
						var existing, unknown []sample
						timed := func(user string) sample {
							if c.before != "" {
								try(c.before, "wrong-password")
							}
							start, cpu := time.Now(), cpuTime(b)
							try(user, c.secret)
							return sample{wall: time.Since(start), cpu: cpuTime(b) - cpu}
						}
						// An attempt that hashes nothing takes tens of µs, where
						// the machine's noise is as large: sample it 25 times
						// more (it costs no more time than one hash).
						pairs := b.N
						if timed(c.user).wall < 5*time.Millisecond && timed("nobody").wall < 5*time.Millisecond {
							pairs *= 25
						}
						for i := range pairs {
							// Alternate which goes first, so neither gains
							// from the other's warm caches.
							if i%2 == 0 {
								existing = append(existing, timed(c.user))
								unknown = append(unknown, timed("nobody"))
							} else {
								unknown = append(unknown, timed("nobody"))
								existing = append(existing, timed(c.user))
							}
						}
						reportRatio(b, existing, unknown)
					})
				}
			}
		})
	}
}

// BenchmarkHardening4_Lookup: the MariaDB round trips of a look-up by
// name, for an existing and an unknown user (an unknown name pays the
// found user's meta and roles queries).
func BenchmarkHardening4_Lookup(b *testing.B) {
	db := mariadbtest.Start(b)
	seedDemo(b, db)
	src, err := wpusers.OpenSQL(wpusers.SQLConfig{DSN: db.DSN, TablePrefix: "wp_"})
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	ctx := context.Background()
	find := func(name string) sample {
		start, cpu := time.Now(), cpuTime(b)
		if _, err := src.FindByName(ctx, name); err != nil && name != "nobody" {
			b.Fatal(err)
		}
		return sample{wall: time.Since(start), cpu: cpuTime(b) - cpu}
	}
	for _, user := range []string{"jane", "admin"} {
		b.Run(user, func(b *testing.B) {
			find(user)
			find("nobody")
			var existing, unknown []sample
			for i := range b.N {
				if i%2 == 0 {
					existing = append(existing, find(user))
					unknown = append(unknown, find("nobody"))
				} else {
					unknown = append(unknown, find("nobody"))
					existing = append(existing, find(user))
				}
			}
			reportRatio(b, existing, unknown)
		})
	}
}

// sample is one attempt's wall-clock time and the CPU time the process
// (client, server and everything they run) spent during it. On a machine
// shared with other work the wall clock carries that work's noise; the
// CPU time is the work itself.
type sample struct{ wall, cpu time.Duration }

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRatio reports the medians (ms) of both clocks and their
// existing/unknown ratios.
func reportRatio(b *testing.B, existing, unknown []sample) {
	b.ReportMetric(0, "ns/op") // the pair's total means nothing here
	for _, clock := range []struct {
		name string
		of   func(sample) time.Duration
	}{
		{"", func(s sample) time.Duration { return s.wall }},
		{"cpu-", func(s sample) time.Duration { return s.cpu }},
	} {
		me, mu := median(existing, clock.of), median(unknown, clock.of)
		b.ReportMetric(float64(me)/1e6, clock.name+"existing-ms")
		b.ReportMetric(float64(mu)/1e6, clock.name+"unknown-ms")
		b.ReportMetric(float64(me)/float64(mu), clock.name+"ratio")
	}
}

func median(samples []sample, of func(sample) time.Duration) time.Duration {
	s := make([]time.Duration, len(samples))
	for i, x := range samples {
		s[i] = of(x)
	}
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
