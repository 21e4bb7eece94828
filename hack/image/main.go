// Command image builds wpauthz's container image without a container
// runtime or a network: the static binary is the only layer, on an empty
// base, and the result is one tar that is at once an OCI image layout
// (index.json, blobs/) and a `docker save` archive (manifest.json), so
// `docker load`, `podman load`, `skopeo copy oci-archive:…` and
// `crane push` all take it.
//
// Run from the repository root (make image does):
//
//	go run ./hack/image -o bin/wpauthz-image-0.1.0.tar
//
// The image matches the Dockerfile's: user 65532:65532, entrypoint
// /wpauthz, command serve, nothing written at runtime. go-containerregistry
// is used here only; the wpauthz binary does not link it.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's runtime contract, shared with the Dockerfile (test/image
// checks that both say the same).
const (
	binaryPath = "/wpauthz"
	user       = "65532:65532" // distroless "nonroot"
	repository = "ghcr.io/wpauthz/wpauthz"
	source     = "https://github.com/wpauthz/wpauthz"
)

type options struct {
	out        string
	version    string
	repository string
	arch       string
	revision   string
	created    string
}

func main() {
	var o options
	flag.StringVar(&o.out, "o", "", "write the image tar here (required)")
	flag.StringVar(&o.version, "version", "", "image tag and the binary's version (default: the VERSION file)")
	flag.StringVar(&o.repository, "repository", repository, "image repository")
	flag.StringVar(&o.arch, "arch", runtime.GOARCH, "GOARCH of the binary (the image is linux/<arch>)")
	flag.StringVar(&o.revision, "revision", "", "source revision, for the org.opencontainers.image.revision label")
	flag.StringVar(&o.created, "created", "", "RFC 3339 time the image claims, e.g. the commit's (default: the Unix epoch)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.out == "" {
		return errors.New("-o is required")
	}
	if o.version == "" {
		raw, err := os.ReadFile("VERSION")
		if err != nil {
			return fmt.Errorf("version: %w (run from the repository root, or pass -version)", err)
		}
		o.version = strings.TrimSpace(string(raw))
	}
	tag, err := name.NewTag(o.repository+":"+o.version, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("image name: %w", err)
	}
	// Without -created the image claims the Unix epoch, as ko and
	// reproducible-builds tooling do: the same source, the same digest.
	created := time.Unix(0, 0).UTC()
	if o.created != "" {
		if created, err = time.Parse(time.RFC3339, o.created); err != nil {
			return fmt.Errorf("-created: %w", err)
		}
	}

	work, err := os.MkdirTemp("", "wpauthz-image")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "wpauthz")
	if err := buildBinary(bin, o.version, o.arch); err != nil {
		return err
	}
	img, err := newImage(bin, tag, o, created)
	if err != nil {
		return err
	}
	if err := writeArchiveFile(o.out, img, tag, created); err != nil {
		return err
	}
	return describe(os.Stdout, o.out, img, tag)
}

// buildBinary builds cmd/wpauthz as the Dockerfile does: static (no cgo),
// no local paths, no symbol table, the version linked in.
func buildBinary(out, version, arch string) error {
	cmd := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-s -w -X main.version="+version,
		"-o", out, "./cmd/wpauthz")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/wpauthz: %w", err)
	}
	return nil
}

// newImage puts the binary at /wpauthz, owned by root and read-only, as
// the one layer of an empty OCI image, and writes the config.
func newImage(bin string, tag name.Tag, o options, created time.Time) (v1.Image, error) {
	raw, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     strings.TrimPrefix(binaryPath, "/"),
		Mode:     0o555,
		Size:     int64(len(raw)),
		ModTime:  created,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(raw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerBytes := layerTar.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: "go build -trimpath -ldflags '-s -w -X main.version=" + o.version + "' ./cmd/wpauthz (CGO_ENABLED=0)",
			Comment:   "hack/image",
		},
	})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	labels := ociLabels(o, created)
	cfg.OS, cfg.Architecture = "linux", o.arch
	cfg.Created = v1.Time{Time: created}
	cfg.Config = v1.Config{
		User:       user,
		Entrypoint: []string{binaryPath},
		Cmd:        []string{"serve"},
		WorkingDir: "/",
		Labels:     labels,
		// The listeners' defaults (gRPC ext_authz, HTTP checks); documentation only.
		ExposedPorts: map[string]struct{}{"9001/tcp": {}, "8080/tcp": {}},
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels).(v1.Image), nil
}

// ociLabels are the org.opencontainers.image.* annotations, used both as
// config labels (what `docker inspect` shows) and manifest annotations
// (what registries show).
func ociLabels(o options, created time.Time) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "wpauthz",
		"org.opencontainers.image.description": "Authorization for the WordPress REST API at the service mesh (Envoy ext_authz, nginx/Caddy/Traefik forward auth)",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.source":      source,
		"org.opencontainers.image.url":         source,
	}
	if o.revision != "" {
		l["org.opencontainers.image.revision"] = o.revision
	}
	if o.created != "" {
		l["org.opencontainers.image.created"] = created.UTC().Format(time.RFC3339)
	}
	return l
}

func writeArchiveFile(path string, img v1.Image, tag name.Tag, mtime time.Time) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// Write next to the target and rename, so a failed build never leaves
	// a truncated image where the last good one was.
	f, err := os.CreateTemp(filepath.Dir(path), ".wpauthz-image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := writeArchive(f, img, tag, mtime); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// writeArchive writes img as an OCI image layout whose index names it
// tag, plus the manifest.json of a `docker save` archive pointing at the
// same blobs.
func writeArchive(w io.Writer, img v1.Image, tag name.Tag, mtime time.Time) error {
	tw := tar.NewWriter(w)
	file := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mtime}); err != nil {
			return err
		}
	}
	blob := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	manifestDigest, err := img.Digest()
	if err != nil {
		return err
	}
	manifestType, err := img.MediaType()
	if err != nil {
		return err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		return err
	}
	if err := file(blob(manifestDigest), manifest); err != nil {
		return err
	}
	if err := file(blob(configDigest), config); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	var layerPaths []string
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if err := file(blob(d), data); err != nil {
			return err
		}
		layerPaths = append(layerPaths, blob(d))
	}

	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: manifestType,
			Size:      int64(len(manifest)),
			Digest:    manifestDigest,
			Platform:  &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture},
			Annotations: map[string]string{
				// The tag alone, as the OCI layout spec has it, and the
				// full name, which containerd and Docker read.
				"org.opencontainers.image.ref.name": tag.TagStr(),
				"io.containerd.image.name":          tag.Name(),
			},
		}},
	})
	if err != nil {
		return err
	}
	dockerManifest, err := json.Marshal(tarball.Manifest{{
		Config:   blob(configDigest),
		RepoTags: []string{tag.Name()},
		Layers:   layerPaths,
	}})
	if err != nil {
		return err
	}
	if err := file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := file("index.json", index); err != nil {
		return err
	}
	if err := file("manifest.json", dockerManifest); err != nil {
		return err
	}
	return tw.Close()
}

// describe prints what was built: the name, the digests, the config.
func describe(w io.Writer, path string, img v1.Image, tag name.Tag) error {
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	size, err := os.Stat(path)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(struct {
		Image    string    `json:"image"`
		Digest   v1.Hash   `json:"digest"`
		Platform string    `json:"platform"`
		Config   v1.Config `json:"config"`
	}{tag.Name(), digest, cfg.OS + "/" + cfg.Architecture, cfg.Config}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s (%d bytes)\n%s\n", path, size.Size(), out)
	return err
}
