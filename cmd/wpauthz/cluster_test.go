package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLeaderElectionNamespace: the flag wins, then $POD_NAMESPACE, then the
// service account's namespace file (what a pod has); with none of them the
// error names the flag to set.
func TestLeaderElectionNamespace(t *testing.T) {
	dir := t.TempDir()
	saFile := filepath.Join(dir, "namespace")
	if err := os.WriteFile(saFile, []byte("from-sa\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "absent")
	env := func(ns string) func(string) string {
		return func(k string) string {
			if k == "POD_NAMESPACE" {
				return ns
			}
			return ""
		}
	}
	for _, c := range []struct {
		name, flag, podNS, file, want string
	}{
		{"flag", "from-flag", "from-env", saFile, "from-flag"},
		{"env", "", "from-env", saFile, "from-env"},
		{"service account", "", "", saFile, "from-sa"},
	} {
		got, err := leaderElectionNamespace(c.flag, env(c.podNS), c.file)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	_, err := leaderElectionNamespace("", env(""), missing)
	if err == nil || !strings.Contains(err.Error(), "--leader-election-namespace") {
		t.Errorf("out of cluster: got %v, want an error naming --leader-election-namespace", err)
	}
	// A directory where the file should be is not "out of cluster".
	if _, err := leaderElectionNamespace("", env(""), dir); err == nil || strings.Contains(err.Error(), "--leader-election-namespace") {
		t.Errorf("unreadable namespace file: got %v, want the read error", err)
	}
}
