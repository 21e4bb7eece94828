// Command mutate runs gremlins (mutation testing) over the packages of
// hack/mutate/thresholds.txt, one package at a time, and fails when a
// package's test efficacy is below its threshold. `make mutate` runs it;
// it is not part of `make test` (a package takes minutes).
//
// Every package is measured the same way: its own files only (-E '/'
// leaves out the files of sub-packages, which have their own line),
// gremlins' default mutators plus INVERT_LOGICAL (&& <-> ||) and
// INVERT_LOOPCTRL (break <-> continue), one worker, a timeout of five
// times the package's test time.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// mutatorFlags is the mutator set: the defaults (arithmetic, boundary,
// negation, ++/--, sign) plus && <-> || and break <-> continue, the
// mutations of access-control code that the defaults miss.
var mutatorFlags = []string{"--invert-logical", "--invert-loopctrl"}

// line is one package of the thresholds file.
type line struct {
	pkg       string
	threshold float64
	skip      string // go test -skip regexp, "" for none
}

// result is what gremlins reported for one package.
type result struct {
	line
	killed, lived, timedOut, notCovered, notViable int
	efficacy                                       float64
	took                                           time.Duration
	err                                            error
}

// report is the part of gremlins' JSON output (-o) that is read.
type report struct {
	Efficacy   float64 `json:"test_efficacy"`
	Killed     int     `json:"mutants_killed"`
	Lived      int     `json:"mutants_lived"`
	NotCovered int     `json:"mutants_not_covered"`
	NotViable  int     `json:"mutants_not_viable"`
	Files      []struct {
		Mutations []struct {
			Status string `json:"status"`
		} `json:"mutations"`
	} `json:"files"`
}

func main() {
	gremlins := flag.String("gremlins", "gremlins", "the gremlins binary (v0.6.0)")
	table := flag.String("thresholds", "hack/mutate/thresholds.txt", "the per-package threshold table")
	out := flag.String("out", "bin/mutate", "folder for each package's JSON report and log")
	only := flag.String("packages", "", "space-separated packages of the table to run (all when empty)")
	full := flag.Bool("full", false, "ignore the table's -skip column (run every test, however slow)")
	flag.Parse()

	lines, err := readTable(*table)
	if err != nil {
		fatal(err)
	}
	if *only != "" {
		if lines, err = selectPackages(lines, strings.Fields(*only)); err != nil {
			fatal(err)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fatal(err)
	}
	var results []result
	failed := false
	for _, l := range lines {
		if *full {
			l.skip = ""
		}
		r := run(*gremlins, *out, l)
		results = append(results, r)
		if r.err != nil || r.efficacy < r.threshold {
			failed = true
		}
		printTable(os.Stderr, results[len(results)-1:], false)
	}
	fmt.Println()
	printTable(os.Stdout, results, true)
	if failed {
		fmt.Println("\nmutate: a package is below its threshold (or gremlins failed); see the logs in", *out)
		os.Exit(1)
	}
}

// readTable parses "package threshold [skip]" lines; # starts a comment.
func readTable(path string) ([]line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []line
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if len(fields) > 3 {
			return nil, fmt.Errorf("%s:%d: want: package threshold [test-skip-regexp]", path, n)
		}
		t, err := strconv.ParseFloat(fields[1], 64)
		if err != nil || t < 0 || t > 100 {
			return nil, fmt.Errorf("%s:%d: threshold %q is not a percentage", path, n, fields[1])
		}
		l := line{pkg: fields[0], threshold: t}
		if len(fields) == 3 {
			l.skip = fields[2]
		}
		lines = append(lines, l)
	}
	return lines, sc.Err()
}

func selectPackages(lines []line, want []string) ([]line, error) {
	var out []line
	for _, w := range want {
		found := false
		for _, l := range lines {
			if l.pkg == strings.TrimPrefix(w, "./") {
				out = append(out, l)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("package %q is not in the thresholds table", w)
		}
	}
	return out, nil
}

// run runs gremlins on one package with the table's threshold, so that
// gremlins' own gate decides too.
func run(gremlins, out string, l line) result {
	r := result{line: l}
	base := filepath.Join(out, strings.ReplaceAll(l.pkg, "/", "_"))
	args := []string{"unleash", "./" + l.pkg, "-E", "/", "--workers", "1", "--timeout-coefficient", "5",
		"--threshold-efficacy", strconv.FormatFloat(l.threshold, 'f', -1, 64), "-o", base + ".json"}
	args = append(args, mutatorFlags...)
	logf, err := os.Create(base + ".log")
	if err != nil {
		r.err = err
		return r
	}
	defer logf.Close()
	cmd := exec.Command(gremlins, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// go test reads test flags from GOFLAGS too; gremlins runs go test.
	// -count=1: gremlins times each mutant out at a multiple of the
	// coverage run's time, and a cached coverage run takes no time at
	// all (then every mutant "times out").
	goflags := strings.TrimSpace(os.Getenv("GOFLAGS") + " -count=1")
	if l.skip != "" {
		goflags += " -skip=" + l.skip
	}
	cmd.Env = append(os.Environ(), "GOFLAGS="+goflags)
	fmt.Fprintf(os.Stderr, "mutate: %s %s\n", gremlins, strings.Join(args, " "))
	start := time.Now()
	runErr := cmd.Run()
	r.took = time.Since(start)
	rep, err := readReport(base + ".json")
	if err != nil {
		r.err = errors.Join(runErr, err)
		return r
	}
	r.killed, r.lived, r.notCovered, r.notViable, r.efficacy = rep.Killed, rep.Lived, rep.NotCovered, rep.NotViable, rep.Efficacy
	for _, f := range rep.Files {
		for _, m := range f.Mutations {
			if m.Status == "TIMED OUT" {
				r.timedOut++
			}
		}
	}
	if runErr != nil && r.efficacy >= l.threshold {
		r.err = runErr // failed for another reason than the threshold
	}
	return r
}

func readReport(path string) (report, error) {
	var rep report
	b, err := os.ReadFile(path)
	if err != nil {
		return rep, err
	}
	return rep, json.Unmarshal(b, &rep)
}

func printTable(f *os.File, results []result, header bool) {
	w := tabwriter.NewWriter(f, 0, 0, 2, ' ', tabwriter.AlignRight)
	if header {
		fmt.Fprintln(w, "package\tkilled\tlived\ttimed out\tnot covered\tefficacy\tthreshold\ttime\t\t")
	}
	for _, r := range results {
		verdict := "ok"
		switch {
		case r.err != nil:
			verdict = "ERROR: " + r.err.Error()
		case r.efficacy < r.threshold:
			verdict = "BELOW THRESHOLD"
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%.2f %%\t%.0f %%\t%s\t%s\t\n", r.pkg, r.killed, r.lived, r.timedOut, r.notCovered,
			r.efficacy, r.threshold, r.took.Round(time.Second), verdict)
	}
	w.Flush()
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	os.Exit(2)
}
