package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// The policy edit flips two rules of the sample policy
// (config/samples/local/policy.yaml) between versions: in an odd version
// anyone may list users (the no-user-enumeration rule allows instead of
// denying), and only administrators may write posts (editors-write drops
// the editor role). Both flips change decisions the load checks, so a
// replica that missed a reload, or applied one late, answers wrongly.
var policyFlips = []struct{ even, odd string }{
	{
		even: "- name: no-user-enumeration\n      routes: [\"/wp/v2/users\"]\n      methods: [GET]\n      action: Deny",
		odd:  "- name: no-user-enumeration\n      routes: [\"/wp/v2/users\"]\n      methods: [GET]\n      action: Allow",
	},
	{
		even: "action: Authenticate\n      roles: [editor, administrator]",
		odd:  "action: Authenticate\n      roles: [administrator]",
	},
}

// soakAccessTTL replaces the sample's 15-minute access tokens: every
// revocation is remembered until its token expires, so the replicas'
// revocation views grow for one access lifetime before they level off;
// a short one puts that inside the warm-up, and what grows after it is a
// leak.
const soakAccessTTL = "accessTokenTTL: 4m"

// soakPolicy is the sample policy with soakAccessTTL.
func soakPolicy(sample string) (string, error) {
	const ttl = "accessTokenTTL: 15m"
	if strings.Count(sample, ttl) != 1 {
		return "", fmt.Errorf("the sample policy changed shape: %q is not in it exactly once; update test/soak/driver/policy.go", ttl)
	}
	return strings.Replace(sample, ttl, soakAccessTTL, 1), nil
}

// policyText is the sample policy rewritten for version v (version 0 is
// the sample itself). It fails when the sample no longer has the shape
// the flips expect.
func policyText(sample string, v int) (string, error) {
	out := sample
	for _, f := range policyFlips {
		if strings.Count(sample, f.even) != 1 {
			return "", fmt.Errorf("the sample policy changed shape: %q is not in it exactly once; update test/soak/driver/policy.go", f.even)
		}
		if v%2 == 1 {
			out = strings.Replace(out, f.even, f.odd, 1)
		}
	}
	// A comment with the version makes every edit a new folder content,
	// so that even "back to the same rules" is a real reload.
	return fmt.Sprintf("# soak policy version %d\n%s", v, out), nil
}

// writeAtomic replaces path the way an editor or a ConfigMap update does:
// a new file renamed over the old one (a name the loader ignores first).
func writeAtomic(path, content string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// history is when each policy version was written: the version in force
// for a request, and whether the request overlaps a reload window (the
// bounded time a replica may take to apply an edit), when its decision
// may be either version's.
type history struct {
	window time.Duration

	mu      sync.RWMutex
	written []time.Time // written[v] is when version v was written
}

func newHistory(start time.Time, window time.Duration) *history {
	return &history{window: window, written: []time.Time{start}}
}

// add records that version len(written) was written at t, and returns it.
func (h *history) add(t time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.written = append(h.written, t)
	return len(h.written) - 1
}

// versions are the policy versions a request sent at sent and answered at
// done may have been decided under: one, or — when [sent, done]
// overlaps a reload window — the old and the new.
func (h *history) versions(sent, done time.Time) (vs []int, inWindow bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	// The version in force at sent: the last one written at or before it.
	v := sort.Search(len(h.written), func(i int) bool { return h.written[i].After(sent) }) - 1
	if v < 0 {
		v = 0
	}
	vs = []int{v}
	// A reload window still open at sent (v's), or opening before done.
	for w := v; w < len(h.written); w++ {
		if w == 0 {
			continue
		}
		from, to := h.written[w], h.written[w].Add(h.window)
		if from.After(done) {
			break
		}
		if !to.Before(sent) {
			inWindow = true
			for _, x := range []int{w - 1, w} {
				if !slices.Contains(vs, x) {
					vs = append(vs, x)
				}
			}
		}
	}
	return vs, inWindow
}
