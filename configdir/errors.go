package configdir

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Error is one problem found in the configuration folder: where it is
// (file, document, line), which resource it concerns and which field.
// Load joins every Error it finds with errors.Join; use Errors to get them
// back one by one.
//
// Messages never quote Secret data: for a Secret only key names appear.
type Error struct {
	// File is the path of the file, as read (DIR joined with the name).
	File string
	// Doc is the 1-based position of the document among the file's
	// non-empty documents; 0 when the problem concerns the whole file.
	Doc int
	// Line is the line of the file where the document starts (1-based);
	// 0 when unknown.
	Line int
	// Kind, Namespace and Name identify the resource, as far as known.
	Kind      string
	Namespace string
	Name      string
	// Field is the path of the offending field, such as
	// "spec.rules[0].action"; empty when the problem is not tied to a field.
	Field string
	// Message says what is wrong.
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Doc > 0 {
		fmt.Fprintf(&b, ": document %d", e.Doc)
	}
	if e.Kind != "" {
		b.WriteString(": ")
		b.WriteString(e.Kind)
		if e.Name != "" {
			b.WriteString(" ")
			if e.Namespace != "" {
				b.WriteString(e.Namespace)
				b.WriteString("/")
			}
			b.WriteString(e.Name)
		}
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// LogAttrs returns the error as structured log attributes.
func (e *Error) LogAttrs() []slog.Attr {
	attrs := []slog.Attr{slog.String("file", e.File)}
	if e.Doc > 0 {
		attrs = append(attrs, slog.Int("doc", e.Doc))
	}
	if e.Line > 0 {
		attrs = append(attrs, slog.Int("line", e.Line))
	}
	if e.Kind != "" {
		attrs = append(attrs, slog.String("kind", e.Kind))
	}
	if e.Namespace != "" {
		attrs = append(attrs, slog.String("namespace", e.Namespace))
	}
	if e.Name != "" {
		attrs = append(attrs, slog.String("name", e.Name))
	}
	if e.Field != "" {
		attrs = append(attrs, slog.String("field", e.Field))
	}
	return append(attrs, slog.String("error", e.Message))
}

// Errors flattens an error returned by Load into its individual problems.
// Errors that are not *Error (I/O failures) are returned as they are.
func Errors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Errors(e)...)
		}
		return out
	}
	return []error{err}
}

// logProblems logs every problem of a failed load, one record each.
func logProblems(ctx context.Context, log *slog.Logger, err error) {
	for _, e := range Errors(err) {
		var de *Error
		if errors.As(e, &de) {
			log.LogAttrs(ctx, slog.LevelError, "invalid configuration", de.LogAttrs()...)
			continue
		}
		log.Error("cannot read configuration", "error", e)
	}
}
