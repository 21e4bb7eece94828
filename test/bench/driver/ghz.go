package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ghzReport is the part of ghz's JSON report (-O json) the table uses.
type ghzReport struct {
	Count               uint64             `json:"count"`
	Total               time.Duration      `json:"total"`
	Average             time.Duration      `json:"average"`
	Rps                 float64            `json:"rps"`
	ErrorDistribution   map[string]int     `json:"errorDistribution"`
	StatusCodeDist      map[string]int     `json:"statusCodeDistribution"`
	LatencyDistribution []ghzLatencyBucket `json:"latencyDistribution"`

	// cpu is ghz's own CPU time (user + system) for the whole run.
	cpu time.Duration
}

type ghzLatencyBucket struct {
	Percentage int           `json:"percentage"`
	Latency    time.Duration `json:"latency"`
}

func (r *ghzReport) percentile(p int) time.Duration {
	for _, b := range r.LatencyDistribution {
		if b.Percentage == p {
			return b.Latency
		}
	}
	return 0
}

// ghzRun is one ghz invocation's settings.
type ghzRun struct {
	bin         string
	addr        string
	dataFile    string
	total       int
	concurrency int
	connections int
	rps         int // 0: as fast as possible (closed loop)
}

// run drives the server with ghz through server reflection and returns
// the report. Every call must succeed with gRPC OK (a denial is a
// CheckResponse, not a gRPC error), or the run is an error.
func (g ghzRun) run(ctx context.Context) (*ghzReport, error) {
	args := []string{
		"--insecure",
		"--call", "envoy.service.auth.v3.Authorization/Check",
		"--data-file", g.dataFile,
		"--total", strconv.Itoa(g.total),
		"--concurrency", strconv.Itoa(g.concurrency),
		"--connections", strconv.Itoa(g.connections),
		"--rps", strconv.Itoa(g.rps),
		"--timeout", "10s",
		"--format", "json",
		g.addr,
	}
	cmd := exec.CommandContext(ctx, g.bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ghz: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var r ghzReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("ghz report: %w", err)
	}
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if int(r.Count) != g.total || r.StatusCodeDist["OK"] != g.total || len(r.ErrorDistribution) > 0 {
		return nil, fmt.Errorf("ghz: %d calls, status codes %v, errors %v", r.Count, r.StatusCodeDist, r.ErrorDistribution)
	}
	return &r, nil
}

// ghzVersion is what `ghz --version` says or, for a build from `go install`
// (which says "dev"), the name of the pinned binary the Makefile installs
// (bin/ghz-<version>).
func ghzVersion(bin string) string {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	v := string(bytes.TrimSpace(bytes.SplitN(out, []byte("\n"), 2)[0]))
	if err != nil || v == "" || v == "dev" {
		if real, err := filepath.EvalSymlinks(bin); err == nil {
			return strings.TrimPrefix(filepath.Base(real), "ghz-")
		}
		return "unknown"
	}
	return v
}
