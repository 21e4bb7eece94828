package wpusers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wpauthz/wpauthz/test/mariadbtest"
)

// TestFoldNameCoarserThanCollation asks a real MariaDB which strings
// WordPress's default collation (utf8mb4_unicode_520_ci) equates, and
// checks that FoldName never tells two of them apart: every code point
// of planes 0 and 1, the empty string, every two-character string of
// [a-z0-9] and the three-letter ones ligatures expand to (so that
// expansions such as "ß" = "ss", "æ" = "ae", "ﬃ" = "ffi" are covered),
// and the spellings of the hardening issue. MariaDB groups them by
// collation equality (GROUP BY on the collated column): each group must
// have one fold.
func TestFoldNameCoarserThanCollation(t *testing.T) {
	db := mariadbtest.Start(t)
	db.Exec(t, "CREATE TABLE fold_probe (id INT PRIMARY KEY, s VARCHAR(8) NOT NULL) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci")

	var probes []string
	for r := rune(0); r <= 0x1FFFF; r++ {
		if utf8.ValidRune(r) {
			probes = append(probes, string(r))
		}
	}
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	for _, a := range alnum {
		for _, b := range alnum {
			probes = append(probes, string(a)+string(b))
		}
	}
	probes = append(probes, "", "ffi", "ffl", "jane", "jane ", "jane  ", "JÄNE", "jáne", "Jâne   ", "jäne   ")

	ctx := context.Background()
	const batch = 2000
	for i := 0; i < len(probes); i += batch {
		end := min(i+batch, len(probes))
		var q strings.Builder
		q.WriteString("INSERT INTO fold_probe (id, s) VALUES ")
		args := make([]any, 0, 2*(end-i))
		for j := i; j < end; j++ {
			if j > i {
				q.WriteString(",")
			}
			q.WriteString("(?, ?)")
			args = append(args, j, probes[j])
		}
		if _, err := db.Admin.ExecContext(ctx, q.String(), args...); err != nil {
			t.Fatalf("inserting probes: %v", err)
		}
	}
	// The collation's equivalence classes with more than one member.
	rows, err := db.Admin.QueryContext(ctx, "SELECT GROUP_CONCAT(id ORDER BY id SEPARATOR ',') FROM fold_probe GROUP BY s HAVING COUNT(*) > 1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var groups, members, bad int
	for rows.Next() {
		var ids string
		if err := rows.Scan(&ids); err != nil {
			t.Fatal(err)
		}
		groups++
		var first string
		for k, id := range strings.Split(ids, ",") {
			var n int
			fmt.Sscan(id, &n)
			members++
			f := FoldName(probes[n])
			if k == 0 {
				first = probes[n]
				continue
			}
			if f != FoldName(first) {
				bad++
				if bad <= 20 {
					t.Errorf("the collation equates %+q and %+q; FoldName tells them apart", first, probes[n])
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if groups < 1000 {
		t.Fatalf("only %d classes of equal strings: the probe table is not what the test thinks", groups)
	}
	t.Logf("%d probes, %d classes of equal strings (%d members), %d told apart by FoldName", len(probes), groups, members, bad)
}

// TestFoldNameUnknownVariants: the spellings of one unknown name share
// one fold; other names do not.
func TestFoldNameUnknownVariants(t *testing.T) {
	want := FoldName("nobody")
	for _, v := range []string{"nobody", " nobody", "NOBODY  ", "nöbody", "NÓBÔDY", "nobody\t", "ｎｏｂｏｄｙ", "no\u00adbody"} {
		if FoldName(v) != want {
			t.Errorf("FoldName(%q) differs from FoldName(\"nobody\")", v)
		}
	}
	for _, other := range []string{"nobody2", "no body", "nobod", "somebody", "nobody@example.com"} {
		if FoldName(other) == want {
			t.Errorf("FoldName(%q) equals FoldName(\"nobody\")", other)
		}
	}
}

// TestMayBeAppPassword: the shapes WordPress can match as an application
// password (24 characters of [A-Za-z0-9] once everything else is
// stripped), and nothing else.
func TestMayBeAppPassword(t *testing.T) {
	for s, want := range map[string]bool{
		"abcd EFGH ijkl MNOP qrst UVWX": true,
		"abcdEFGHijklMNOPqrstUVWX":      true,
		"abcd-EFGH-ijkl-MNOP-qrst-UVWX": true,
		"abcd EFGH ijkl MNOP qrst UVW":  false,
		"abcdEFGHijklMNOPqrstUVWXY":     false,
		"jane-demo-password":            false,
		"":                              false,
		"äbcdEFGHijklMNOPqrstUVWX":      false, // 23 once stripped
	} {
		if got := MayBeAppPassword(s); got != want {
			t.Errorf("MayBeAppPassword(%q) = %v, want %v", s, got, want)
		}
	}
}

func BenchmarkFoldName(b *testing.B) {
	for _, name := range []string{"jane", "Jâne   ", "jane@example.com"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				FoldName(name)
			}
		})
	}
}
