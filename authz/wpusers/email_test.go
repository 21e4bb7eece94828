package wpusers

import "testing"

// TestLooksLikeEmailAtItsEdges: the email look-up is tried only for a
// name WordPress's is_email could accept: six bytes or more, one "@" that
// is not the first byte, and at least three bytes after it (the shortest
// domain with a dot). Each case sits on one edge of those rules.
func TestLooksLikeEmailAtItsEdges(t *testing.T) {
	for name, want := range map[string]bool{
		"a@b.cd":  true,  // six bytes, the shortest
		"ab@c.d":  true,  // three bytes after the "@"
		"a@b.c":   false, // five bytes
		"abc@de":  false, // two bytes after the "@"
		"@abcde":  false, // "@" first
		"@b@c.de": false, // two "@", the first at 0
		"a@b@c.d": false, // two "@"
		"abcdef":  false, // no "@"
	} {
		if got := looksLikeEmail(name); got != want {
			t.Errorf("looksLikeEmail(%q) = %v, want %v", name, got, want)
		}
	}
}
