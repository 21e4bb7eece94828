// Package image checks the container image that `make image` builds
// (hack/image): it builds one through the same program, reads it back
// both as an OCI image layout and as a `docker save` archive, checks the
// config and the one layer, and runs the binary taken out of that layer
// the way a pod would: as UID 65532, with no environment, on a read-only
// root filesystem.
package image

import (
	"archive/tar"
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/image-spec/schema"
	"sigs.k8s.io/yaml"

	"github.com/wpauthz/wpauthz/test/freeport"
	"github.com/wpauthz/wpauthz/test/testbin"
)

const (
	repository = "ghcr.io/wpauthz/wpauthz"
	nonroot    = 65532
)

func TestImage(t *testing.T) {
	root := testbin.Root()
	version := readVersion(t, root)
	archive := filepath.Join(t.TempDir(), "wpauthz-image.tar")
	build := exec.Command("go", "run", "./hack/image", "-o", archive)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go run ./hack/image: %v\n%s", err, out)
	}
	tag, err := name.NewTag(repository+":"+version, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}

	img := readOCILayout(t, archive, tag)
	checkDockerArchiveAgrees(t, archive, tag, img)
	checkConfig(t, img, version)
	bin := extractBinary(t, img)
	checkStatic(t, bin)

	t.Run("help", func(t *testing.T) {
		out, err := runAsNonroot(bin, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "serve") {
			t.Fatalf("wpauthz --help: %v\n%s", err, out)
		}
	})
	t.Run("version", func(t *testing.T) {
		for _, args := range [][]string{{"version"}, {"--version"}} {
			out, err := runAsNonroot(bin, args...).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != version {
				t.Errorf("wpauthz %s: %q, %v; want %q", args[0], out, err, version)
			}
		}
	})
	t.Run("serve", func(t *testing.T) { serveUntilReady(t, bin, samples(t, root)) })
}

// TestVersionAgrees: the VERSION file is the one version; the chart's
// appVersion (once the chart exists), the kustomize image tag and the
// Dockerfile's default say the same, and the Dockerfile builds the image
// hack/image builds.
func TestVersionAgrees(t *testing.T) {
	root := testbin.Root()
	version := readVersion(t, root)
	if raw, err := os.ReadFile(filepath.Join(root, "charts", "wpauthz", "Chart.yaml")); err == nil {
		var chart struct {
			AppVersion string `json:"appVersion"`
		}
		if err := yaml.Unmarshal(raw, &chart); err != nil {
			t.Fatalf("Chart.yaml: %v", err)
		}
		if chart.AppVersion != version {
			t.Errorf("charts/wpauthz/Chart.yaml appVersion %q, VERSION %q", chart.AppVersion, version)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(filepath.Join(root, "config", "manager", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kustomization struct {
		Images []struct{ Name, NewName, NewTag string } `json:"images"`
	}
	if err := yaml.Unmarshal(raw, &kustomization); err != nil {
		t.Fatal(err)
	}
	if im := kustomization.Images; len(im) != 1 || im[0].NewName != repository || im[0].NewTag != version {
		t.Errorf("config/manager/kustomization.yaml images %+v, want %s:%s", im, repository, version)
	}

	df := readDockerfile(t, filepath.Join(root, "Dockerfile"))
	if got := df.arg("VERSION"); got != version {
		t.Errorf("Dockerfile: ARG VERSION=%q, VERSION file %q", got, version)
	}
	build := df.stages[0]
	final := df.stages[len(df.stages)-1]
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "./cmd/wpauthz"} {
		if !slices.ContainsFunc(build, func(l string) bool { return strings.HasPrefix(l, "RUN ") && strings.Contains(l, want) }) {
			t.Errorf("Dockerfile: the build stage has no RUN with %q", want)
		}
	}
	for _, want := range []string{
		"USER " + fmt.Sprintf("%d:%d", nonroot, nonroot),
		`ENTRYPOINT ["/wpauthz"]`,
		`CMD ["serve"]`,
		"WORKDIR /",
		"EXPOSE 9001 8080",
	} {
		if !slices.Contains(final, want) {
			t.Errorf("Dockerfile: the final stage lacks %q", want)
		}
	}
	if from := final[0]; !strings.HasPrefix(from, "FROM gcr.io/distroless/static") || !strings.HasSuffix(from, ":nonroot") {
		t.Errorf("Dockerfile: final stage %q, want a distroless static nonroot base", from)
	}
}

func readVersion(t *testing.T, root string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(raw))
	if v == "" {
		t.Fatal("VERSION is empty")
	}
	return v
}

// readOCILayout unpacks the archive and opens it as an OCI image layout:
// one manifest, named tag.
func readOCILayout(t *testing.T, archive string, tag name.Tag) v1.Image {
	t.Helper()
	dir := t.TempDir()
	untar(t, archive, dir)
	checkOCISchemas(t, dir)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("OCI layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index.json: %d manifests, want 1", len(im.Manifests))
	}
	d := im.Manifests[0]
	if got := d.Annotations["org.opencontainers.image.ref.name"]; got != tag.TagStr() {
		t.Errorf("index.json ref.name %q, want %q", got, tag.TagStr())
	}
	if got := d.Annotations["io.containerd.image.name"]; got != tag.Name() {
		t.Errorf("index.json io.containerd.image.name %q, want %q", got, tag.Name())
	}
	if d.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want %s", d.MediaType, types.OCIManifestSchema1)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("config media type %s, want %s", m.Config.MediaType, types.OCIConfigJSON)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("layers %+v, want one %s", m.Layers, types.OCILayer)
	}
	// Digests are checked on read: a blob that does not hash to its name
	// fails here.
	if err := validateBlobs(img); err != nil {
		t.Fatalf("OCI layout blobs: %v", err)
	}
	return img
}

// checkOCISchemas validates the layout's JSON documents with the OCI image
// spec's own schemas (a second reader besides go-containerregistry, which
// wrote them).
func checkOCISchemas(t *testing.T, dir string) {
	t.Helper()
	validate := func(v schema.Validator, path string) {
		t.Helper()
		f, err := os.Open(filepath.Join(dir, path))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := v.Validate(f); err != nil {
			t.Errorf("%s against the OCI %s schema: %v", path, v, err)
		}
	}
	validate(schema.ValidatorMediaTypeLayoutHeader, "oci-layout")
	validate(schema.ValidatorMediaTypeImageIndex, "index.json")
	idx, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index v1.IndexManifest
	if err := json.Unmarshal(idx, &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v", err)
	}
	blob := func(h v1.Hash) string { return filepath.Join("blobs", h.Algorithm, h.Hex) }
	validate(schema.ValidatorMediaTypeManifest, blob(index.Manifests[0].Digest))
	raw, err := os.ReadFile(filepath.Join(dir, blob(index.Manifests[0].Digest)))
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	validate(schema.ValidatorMediaTypeImageConfig, blob(m.Config.Digest))
}

func validateBlobs(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkDockerArchiveAgrees opens the same tar as `docker load` would (its
// manifest.json) and checks it finds the same config and layer.
func checkDockerArchiveAgrees(t *testing.T, archive string, tag name.Tag, oci v1.Image) {
	t.Helper()
	docker, err := tarball.ImageFromPath(archive, &tag)
	if err != nil {
		t.Fatalf("as a docker archive: %v", err)
	}
	for what, get := range map[string]func(v1.Image) (v1.Hash, error){
		"config": v1.Image.ConfigName,
		"layer": func(img v1.Image) (v1.Hash, error) {
			ls, err := img.Layers()
			if err != nil || len(ls) != 1 {
				return v1.Hash{}, fmt.Errorf("layers %d: %v", len(ls), err)
			}
			return ls[0].DiffID()
		},
	} {
		a, err := get(oci)
		if err != nil {
			t.Fatal(err)
		}
		b, err := get(docker)
		if err != nil {
			t.Fatalf("docker archive %s: %v", what, err)
		}
		if a != b {
			t.Errorf("%s: OCI layout %s, docker archive %s", what, a, b)
		}
	}
}

func checkConfig(t *testing.T, img v1.Image, version string) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if want := fmt.Sprintf("%d:%d", nonroot, nonroot); c.User != want {
		t.Errorf("User %q, want %q", c.User, want)
	}
	if !slices.Equal(c.Entrypoint, []string{"/wpauthz"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("Entrypoint %q Cmd %q, want [/wpauthz] [serve]", c.Entrypoint, c.Cmd)
	}
	if c.WorkingDir != "/" {
		t.Errorf("WorkingDir %q, want /", c.WorkingDir)
	}
	// Exec form, no shell anywhere: nothing in the config may need one.
	if len(c.Env) != 0 || c.Shell != nil || c.Healthcheck != nil {
		t.Errorf("Env %q Shell %q Healthcheck %+v: want none", c.Env, c.Shell, c.Healthcheck)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.title":   "wpauthz",
		"org.opencontainers.image.source":  "https://github.com/wpauthz/wpauthz",
	} {
		if got := c.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
}

// extractBinary checks that the one layer holds the binary and nothing
// else (no shell, no libc, no writable file) and writes it to a folder
// owned by root that UID 65532 may read but not write.
func extractBinary(t *testing.T, img v1.Image) string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	dir := readableTempDir(t)
	bin := filepath.Join(dir, "wpauthz")
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name != "wpauthz" {
			continue
		}
		if h.Typeflag != tar.TypeReg || h.Mode&0o7777 != 0o555 || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("wpauthz in the layer: type %c mode %o owner %d:%d; want a regular file, 0555, root's", h.Typeflag, h.Mode, h.Uid, h.Gid)
		}
		f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o555)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(names, []string{"wpauthz"}) {
		t.Fatalf("layer files %q, want only [wpauthz]", names)
	}
	return bin
}

// checkStatic: no dynamic loader, no shared library, built without cgo
// and without local paths, and without the image tooling linked in.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %s: the binary is dynamically linked", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("DT_NEEDED %q (%v), want none", libs, err)
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux"} {
		if settings[k] != want {
			t.Errorf("build setting %s=%q, want %q", k, settings[k], want)
		}
	}
	var fallbackRoots bool
	for _, d := range bi.Deps {
		if strings.HasPrefix(d.Path, "github.com/google/go-containerregistry") {
			t.Errorf("the binary links %s (image tooling belongs to hack/image only)", d.Path)
		}
		fallbackRoots = fallbackRoots || d.Path == "golang.org/x/crypto/x509roots/fallback"
	}
	if !fallbackRoots {
		t.Error("the binary lacks golang.org/x/crypto/x509roots/fallback: TLS would have no roots in an image without CA files")
	}
}

// runAsNonroot runs the binary as the image does: UID/GID 65532 (when the
// test may switch user), no environment at all, in a folder it cannot
// write.
func runAsNonroot(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{}
	cmd.Dir = filepath.Dir(bin)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nonroot, Gid: nonroot}}
	}
	return cmd
}

// runAsPod runs the binary as a pod with readOnlyRootFilesystem does: as
// UID/GID 65532, with no environment, and (when the test runs as root, as
// `make test` does here) in a mount namespace of its own whose root
// filesystem is read-only. unshare, mount and setpriv (util-linux) do the
// setting up, then exec the binary in the same process.
func runAsPod(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		return runAsNonroot(bin, args...)
	}
	var tools []string
	for _, name := range []string{"unshare", "sh", "mount", "setpriv"} {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("running as a pod needs %s (util-linux): %v", name, err)
		}
		tools = append(tools, path)
	}
	const script = `"$1" -o remount,bind,ro / || exit 125; shift; exec "$@"`
	argv := append([]string{"--mount", "--propagation", "private", tools[1], "-c", script, "sh", tools[2],
		tools[3], fmt.Sprintf("--reuid=%d", nonroot), fmt.Sprintf("--regid=%d", nonroot), "--clear-groups", "--", bin}, args...)
	cmd := exec.Command(tools[0], argv...)
	cmd.Env = []string{}
	cmd.Dir = filepath.Dir(bin)
	return cmd
}

// rootMountOptions are the options of "/" as process pid sees it.
func rootMountOptions(t *testing.T, pid int) []string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	// mountinfo(5): ID parent major:minor root mount-point options ...
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[4] == "/" {
			return strings.Split(f[5], ",")
		}
	}
	t.Fatalf("/proc/%d/mountinfo: no / mount", pid)
	return nil
}

// serveUntilReady runs `serve --config-dir` on the samples as a pod would,
// waits for /readyz to answer 200, and stops it with SIGTERM: it must exit 0.
func serveUntilReady(t *testing.T, bin, dir string) {
	httpAddr := freeport.Addr(t)
	logs := &testbin.Log{}
	cmd := runAsPod(t, bin, "serve", "--config-dir", dir, "--grpc-addr", freeport.Addr(t), "--http-addr", httpAddr, "--log-format", "text")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("wpauthz log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			exited = true
			t.Fatalf("wpauthz exited before it was ready: %v", err)
		default:
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if os.Geteuid() == 0 {
		if uid := processUID(t, cmd.Process.Pid); uid != fmt.Sprint(nonroot) {
			t.Errorf("wpauthz runs as UID %s, want %d", uid, nonroot)
		}
		if opts := rootMountOptions(t, cmd.Process.Pid); !slices.Contains(opts, "ro") {
			t.Errorf("wpauthz's root filesystem is mounted %q, want ro", opts)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Fatalf("wpauthz exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("wpauthz did not stop on SIGTERM")
	}
	if !strings.Contains(logs.String(), "policy loaded") {
		t.Errorf("no policy loaded from the samples:\n%s", logs.String())
	}
}

// processUID is the real UID of a running process, from /proc.
func processUID(t *testing.T, pid int) string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	t.Fatalf("/proc/%d/status has no Uid line", pid)
	return ""
}

// samples copies config/samples/local where UID 65532 can read it.
func samples(t *testing.T, root string) string {
	t.Helper()
	dir := readableTempDir(t)
	files, err := filepath.Glob(filepath.Join(root, "config", "samples", "local", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("samples: %v %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), raw, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readableTempDir is a fresh folder that others may read and enter but
// not write (t.TempDir's parents are private to the test's user).
func readableTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wpauthz-image-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !filepath.IsLocal(h.Name) {
			t.Fatalf("archive entry %q escapes the folder", h.Name)
		}
		path := filepath.Join(dir, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			var out *os.File
			if out, err = os.Create(path); err == nil {
				_, err = io.Copy(out, tr)
				err = errors.Join(err, out.Close())
			}
		default:
			t.Fatalf("archive entry %q: type %c", h.Name, h.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// dockerfile is a Dockerfile split into stages of instructions, with
// continuation lines joined and comments dropped.
type dockerfile struct {
	args   map[string]string // global ARGs (before the first FROM)
	stages [][]string
}

func (d dockerfile) arg(name string) string { return d.args[name] }

func readDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := dockerfile{args: map[string]string{}}
	var cur strings.Builder
	flush := func() {
		line := strings.Join(strings.Fields(cur.String()), " ")
		cur.Reset()
		switch {
		case line == "":
		case strings.HasPrefix(line, "FROM "):
			d.stages = append(d.stages, []string{line})
		case len(d.stages) == 0 && strings.HasPrefix(line, "ARG "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "ARG "), "=")
			d.args[k] = v
		case len(d.stages) > 0:
			d.stages[len(d.stages)-1] = append(d.stages[len(d.stages)-1], line)
		}
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	if len(d.stages) < 2 {
		t.Fatalf("Dockerfile: %d stages, want a build stage and a final one", len(d.stages))
	}
	return d
}
