package chart

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestChartArgsParseInServe: the arguments each rendering gives the
// wpauthz container are accepted by the real `wpauthz serve` (names and
// values: durations, numbers, booleans), parsed with --help appended so
// that nothing starts.
func TestChartArgsParseInServe(t *testing.T) {
	helmBinary(t)
	bin := filepath.Join(t.TempDir(), "wpauthz")
	build := exec.Command("go", "build", "-o", bin, "./cmd/wpauthz")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wpauthz: %v\n%s", err, out)
	}
	for _, set := range valueSets(t) {
		t.Run(set, func(t *testing.T) {
			args := containerArgs(t, set)
			if len(args) < 2 || args[0] != "serve" {
				t.Fatalf("container args %q do not start with serve", args)
			}
			out, err := exec.Command(bin, append(args, "--help")...).CombinedOutput()
			if err != nil {
				t.Fatalf("wpauthz %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			if !strings.Contains(string(out), "Usage:") {
				t.Fatalf("wpauthz %s --help printed no usage:\n%s", strings.Join(args, " "), out)
			}
		})
	}
}

// containerArgs returns the args of the wpauthz container of the wpauthz
// Deployment in the rendering of valueSet.
func containerArgs(t *testing.T, valueSet string) []string {
	t.Helper()
	for _, doc := range splitDocuments(t, render(t, valueSet)) {
		if doc["kind"] != "Deployment" || name(doc) != releaseName {
			continue
		}
		pod := doc["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		for _, c := range pod["containers"].([]any) {
			container := c.(map[string]any)
			if container["name"] != "wpauthz" {
				continue
			}
			var args []string
			for _, a := range container["args"].([]any) {
				s, ok := a.(string)
				if !ok {
					t.Fatalf("container arg %v is a %T, not a string", a, a)
				}
				args = append(args, s)
			}
			return args
		}
	}
	t.Fatalf("%s: no wpauthz container in Deployment %s", valueSet, releaseName)
	return nil
}
