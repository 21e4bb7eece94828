// Package configdir is standalone mode's source of resources: it reads
// WPApiPolicy, ApiKey, OAuthClient and Secret objects from YAML files in a
// folder, validates them exactly as the Kubernetes API server would (the
// embedded CRD schemas with their defaults and CEL rules, object metadata,
// Secret keys), and hands a validated policy.Bundle to the caller; Watch
// does it again whenever the folder changes.
//
// Folder layout: every regular file (or symlink to one) directly in the
// folder whose name ends in .yaml or .yml, in lexical order. Names starting
// with "." are skipped (editor swap and lock files, the ..data links of a
// mounted ConfigMap); sub-folders are not read. A file may hold several
// documents separated by "---" lines; empty documents are skipped, and so
// are v1 Namespace objects (a folder that is also applied to a cluster
// creates its namespace; standalone mode has no namespaces to create).
//
// Differences from "kubectl apply" into a cluster, all deliberate:
// unknown fields are errors (as with --validate=strict), a missing
// namespace is "default", .status is dropped (as the API server does on
// create), and one bad document rejects the whole folder.
package configdir

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/wpauthz/wpauthz/api/v1alpha1"
	"github.com/wpauthz/wpauthz/authz/policy"
)

// DefaultNamespace is the namespace of resources that name none.
const DefaultNamespace = "default"

// Loader reads and validates the resources in one folder. The validators
// are built once, by NewLoader; a Loader is safe for concurrent use.
type Loader struct {
	dir   string
	log   *slog.Logger
	kinds map[schema.GroupVersionKind]*kindSchema

	// quiet is how long the folder must stay unchanged before Watch
	// reloads; maxDelay bounds the wait while changes keep coming.
	quiet    time.Duration
	maxDelay time.Duration
}

// NewLoader prepares a Loader for dir. It builds the structural schemas,
// OpenAPI and CEL validators of every kind from the embedded CRDs (see
// package config/crd), so a CRD the API server would not serve, or a CEL
// rule that does not compile, fails here. It does not read dir yet.
func NewLoader(dir string, log *slog.Logger) (*Loader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir = filepath.Clean(dir)
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("config dir: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("config dir %s is not a directory", dir)
	}
	kinds, err := loadSchemas()
	if err != nil {
		return nil, err
	}
	for _, kind := range bundleKinds {
		if kinds[v1alpha1.GroupVersion.WithKind(kind)] == nil {
			return nil, fmt.Errorf("no embedded CRD defines %s", v1alpha1.GroupVersion.WithKind(kind))
		}
	}
	return &Loader{
		dir:      dir,
		log:      log,
		kinds:    kinds,
		quiet:    150 * time.Millisecond,
		maxDelay: 2 * time.Second,
	}, nil
}

// Dir is the folder the Loader reads.
func (l *Loader) Dir() string { return l.dir }

// Load reads every resource file in the folder and validates every
// document. It returns the bundle only when the whole folder is valid;
// otherwise the error joins (errors.Join) one *Error per problem found,
// in every file, each with its file, document and field. Use Errors to
// list them.
func (l *Loader) Load() (policy.Bundle, error) {
	r, err := l.load()
	if err != nil {
		return policy.Bundle{}, err
	}
	return r.bundle, nil
}

// loaded is a successful load and a digest of the files it read.
type loaded struct {
	bundle policy.Bundle
	digest [sha256.Size]byte
	files  int
}

// objectKey identifies a resource for duplicate detection.
type objectKey struct {
	group, kind, namespace, name string
}

func (l *Loader) load() (loaded, error) {
	var (
		out      loaded
		problems []error
		seen     = map[objectKey]position{} // first definition of each object
	)
	digest, files, err := l.readFiles(func(path string, data []byte, err error) {
		if err != nil {
			problems = append(problems, &Error{File: path, Message: err.Error()})
			return
		}
		index := 0
		for _, doc := range splitDocuments(data) {
			d, empty, errs := l.decodeDocument(path, doc, index+1)
			if empty {
				continue
			}
			index++
			if d != nil && d.pos.Name != "" {
				// The map keeps a copy of the position, never d itself:
				// d.add holds the decoded object, which must become
				// garbage once it is in the bundle.
				key := objectKey{group: d.gvk.Group, kind: d.gvk.Kind, namespace: d.pos.Namespace, name: d.pos.Name}
				if first, dup := seen[key]; dup {
					e := d.pos
					e.Message = fmt.Sprintf("duplicate %s %s/%s: already defined in %s", key.kind, key.namespace, key.name, first)
					errs = append(errs, &e)
				} else {
					seen[key] = position{file: path, doc: int32(d.pos.Doc), line: int32(d.pos.Line)}
				}
			}
			if len(errs) > 0 {
				for _, e := range errs {
					problems = append(problems, e)
				}
				continue
			}
			d.add(&out.bundle)
		}
	})
	if err != nil {
		return loaded{}, err
	}
	if len(problems) > 0 {
		return loaded{}, errors.Join(problems...)
	}
	out.digest, out.files = digest, files
	return out, nil
}

// fingerprint is the digest load would compute, without decoding
// anything: Watch compares it with the configuration in force to skip
// reloads that would change nothing.
func (l *Loader) fingerprint() ([sha256.Size]byte, error) {
	var failed error
	digest, _, err := l.readFiles(func(_ string, _ []byte, err error) {
		if failed == nil {
			failed = err
		}
	})
	return digest, cmp.Or(err, failed)
}

// readFiles reads every resource file of the folder in lexical order and
// hands each one's content, or the error reading it, to visit: one file at
// a time, nothing is kept. It returns the digest of the names and contents
// of the files read and their number; err is set only when the folder
// itself cannot be listed.
func (l *Loader) readFiles(visit func(path string, data []byte, err error)) (sum [sha256.Size]byte, files int, err error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return sum, 0, fmt.Errorf("reading config dir: %w", err)
	}
	digest := sha256.New()
	for _, entry := range entries {
		name := entry.Name()
		if !isResourceFile(name) {
			continue
		}
		path := filepath.Join(l.dir, name)
		fi, err := os.Stat(path) // follows symlinks (ConfigMap mounts)
		if err != nil {
			// A dangling link, or a file that vanished since ReadDir
			// (an editor's rename dance): not loadable now; the
			// event that removed it triggers another load.
			visit(path, nil, err)
			continue
		}
		if fi.IsDir() || !fi.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			visit(path, nil, err)
			continue
		}
		files++
		fmt.Fprintf(digest, "%s\x00%d\x00", name, len(data))
		digest.Write(data)
		visit(path, data, nil)
	}
	digest.Sum(sum[:0])
	return sum, files, nil
}

// position is where a resource is defined, kept for every resource of a
// load to report duplicates: small, as there may be tens of thousands.
type position struct {
	file      string
	doc, line int32
}

// String is "file:line (document n)", for messages that point elsewhere.
func (p position) String() string {
	s := p.file
	if p.line > 0 {
		s += fmt.Sprintf(":%d", p.line)
	}
	if p.doc > 0 {
		s += fmt.Sprintf(" (document %d)", p.doc)
	}
	return s
}

func isResourceFile(name string) bool {
	// Dot files are editor swap files and a ConfigMap's "..data"; a
	// kustomization lets the same folder be applied to a cluster.
	if strings.HasPrefix(name, ".") || kustomization[name] {
		return false
	}
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

var kustomization = map[string]bool{"kustomization.yaml": true, "kustomization.yml": true, "Kustomization": true}

// document is one "---"-separated part of a file.
type document struct {
	line int // where it starts, 1-based
	data []byte
}

// splitDocuments splits a multi-document YAML file at lines that are
// "---" (optionally followed by spaces or a comment), remembering where
// each document starts.
func splitDocuments(data []byte) []document {
	var docs []document
	start, startLine, line := 0, 1, 1
	for off := 0; off < len(data); line++ {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end < 0 {
			end = len(data)
		} else {
			end += off
			next = end + 1
		}
		if isDocumentSeparator(data[off:end]) {
			docs = append(docs, document{line: startLine, data: data[start:off]})
			start, startLine = next, line+1
		}
		off = next
	}
	return append(docs, document{line: startLine, data: data[start:]})
}

func isDocumentSeparator(line []byte) bool {
	line = bytes.TrimRight(line, "\r")
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := bytes.TrimSpace(line[3:])
	return len(rest) == 0 || rest[0] == '#'
}

// decoded is a valid resource ready to be added to the bundle.
type decoded struct {
	gvk schema.GroupVersionKind
	pos Error // position and identity; Message unset
	add func(*policy.Bundle)
}

// decodeDocument parses and validates one document. empty reports a
// document with no content (skipped, not counted). d is set whenever the
// object's identity is known, even when errs is not empty, so that
// duplicates are found too; d.add may only be called when errs is empty.
func (l *Loader) decodeDocument(file string, doc document, index int) (d *decoded, empty bool, errs []*Error) {
	pos := Error{File: file, Doc: index, Line: doc.line}
	fail := func(field, format string, args ...any) []*Error {
		e := pos
		e.Field = field
		e.Message = fmt.Sprintf(format, args...)
		return []*Error{&e}
	}

	// Strict: duplicate keys are errors, as in the API server's strict
	// decoding.
	js, err := yaml.YAMLToJSONStrict(doc.data)
	if err != nil {
		return nil, false, fail("", "invalid YAML: %s", yamlError(doc, err))
	}
	js = bytes.TrimSpace(js)
	if len(js) == 0 || string(js) == "null" {
		return nil, true, nil
	}
	if js[0] != '{' {
		return nil, false, fail("", "a document must be a mapping with apiVersion, kind and metadata")
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		return nil, false, fail("", "invalid document: %v", err)
	}

	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	pos.Kind = kind
	if md, ok := obj["metadata"].(map[string]any); ok {
		pos.Name, _ = md["name"].(string)
		pos.Namespace, _ = md["namespace"].(string)
	}
	if pos.Namespace == "" {
		pos.Namespace = DefaultNamespace
	}
	switch {
	case apiVersion == "":
		return nil, false, fail("apiVersion", "Required value")
	case kind == "":
		return nil, false, fail("kind", "Required value")
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, false, fail("apiVersion", "Invalid value: %q: %v", apiVersion, err)
	}
	gvk := gv.WithKind(kind)

	// From here on gvk is a known one's, not strings of this document's:
	// it is kept, per resource, until the whole folder is loaded.
	var add func(*policy.Bundle)
	var ferrs []*Error
	switch ks := l.kinds[gvk]; {
	case gvk == namespaceGVK:
		return nil, true, nil
	case gvk == secretGVK:
		gvk = secretGVK
		add, ferrs = decodeSecret(obj, &pos)
	case ks != nil:
		gvk = ks.gvk
		add, ferrs = l.decodeCustomResource(ks, obj, &pos)
	default:
		return nil, false, fail("", "unknown apiVersion/kind %s %s: this folder holds %s and v1 Secret", apiVersion, kind, l.knownKinds())
	}
	for _, e := range ferrs {
		full := pos
		full.Field, full.Message = e.Field, e.Message
		errs = append(errs, &full)
	}
	return &decoded{gvk: gvk, pos: pos, add: add}, false, errs
}

func (l *Loader) knownKinds() string {
	var names []string
	for _, kind := range bundleKinds {
		names = append(names, v1alpha1.GroupVersion.WithKind(kind).Kind)
	}
	return v1alpha1.GroupVersion.String() + " " + strings.Join(names, ", ")
}

// yamlError is the message of a YAML error in doc with the file's line
// numbers. The parser counts lines from the start of the document, so the
// document is parsed again, preceded by as many empty lines as precede it
// in the file. Only a failing document pays for that second parse: padding
// every document would make a file's load quadratic in its length.
func yamlError(doc document, err error) string {
	if doc.line > 1 {
		padded := make([]byte, doc.line-1, doc.line-1+len(doc.data))
		for i := range padded {
			padded[i] = '\n'
		}
		if _, perr := yaml.YAMLToJSONStrict(append(padded, doc.data...)); perr != nil {
			err = perr
		}
	}
	return strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
}
