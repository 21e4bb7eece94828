package configdir

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/wpauthz/wpauthz/authz/policy"
)

// Watch loads the folder, hands the bundle to apply, then reloads it
// whenever the folder changes, until ctx is done (it then returns nil).
//
// If the first load fails, or apply rejects the first bundle, Watch
// returns that error at once: there is no good configuration to keep, and
// `serve` should refuse to start. Afterwards:
//
//   - a burst of changes (an editor's save, a ConfigMap update) is
//     debounced: the folder is reloaded once it has been quiet for a
//     moment;
//   - a load that fails is logged, problem by problem (file, document,
//     line, kind/name, field, message; never a Secret value), and apply
//     is not called: the last good configuration stays in force;
//   - apply returning an error means "rejected": it is logged and the
//     last good configuration stays in force;
//   - apply is not called again for a folder whose content is the same as
//     the last accepted one.
//
// Watch watches the folder itself, not the files, so it follows editors
// that write a temporary file and rename it over the original, Kubernetes
// ConfigMap volumes (the ..data symlink is swapped atomically), and files
// being created, deleted or renamed. If the folder itself is removed, the
// last good configuration stays in force and Watch waits for it to come
// back.
func (l *Loader) Watch(ctx context.Context, apply func(policy.Bundle) error) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching %s: %w", l.dir, err)
	}
	defer w.Close()
	// Watch before the first load, so that no change slips in between.
	if err := w.Add(l.dir); err != nil {
		return fmt.Errorf("watching %s: %w", l.dir, err)
	}

	active, err := l.loadAndApply(ctx, apply, nil)
	if err != nil {
		return err
	}

	var (
		timer    = time.NewTimer(time.Hour)
		pending  bool      // a reload is scheduled
		deadline time.Time // latest time for the pending reload
		rewatch  <-chan time.Time
	)
	timer.Stop()
	defer timer.Stop()
	schedule := func() {
		now := time.Now()
		if !pending {
			pending, deadline = true, now.Add(l.maxDelay)
		}
		timer.Reset(min(l.quiet, max(deadline.Sub(now), 0)))
	}

	reload := func() {
		if digest, err := l.fingerprint(); err == nil && digest == active {
			// Same bytes as the configuration in force: no need to
			// decode and validate it all again.
			l.log.DebugContext(ctx, "configuration unchanged", "dir", l.dir)
			return
		}
		digest, err := l.loadAndApply(ctx, apply, &active)
		if err != nil {
			// loadAndApply logged why.
			return
		}
		active = digest
	}

	for {
		select {
		case <-ctx.Done():
			return nil

		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("file watcher closed")
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			if filepath.Clean(ev.Name) == l.dir && ev.Op.Has(fsnotify.Remove|fsnotify.Rename) {
				l.log.ErrorContext(ctx, "config dir removed; keeping the last good configuration until it comes back", "dir", l.dir)
				_ = w.Remove(l.dir)
				rewatch = time.After(time.Second)
				continue
			}
			schedule()

		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("file watcher closed")
			}
			l.log.WarnContext(ctx, "file watcher error", "dir", l.dir, "error", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				schedule() // events were lost: reload to be sure
			}

		case <-rewatch:
			rewatch = nil
			if fi, err := os.Stat(l.dir); err != nil || !fi.IsDir() {
				rewatch = time.After(time.Second)
				continue
			}
			if err := w.Add(l.dir); err != nil {
				l.log.WarnContext(ctx, "cannot watch config dir", "dir", l.dir, "error", err)
				rewatch = time.After(time.Second)
				continue
			}
			l.log.InfoContext(ctx, "config dir is back; watching it again", "dir", l.dir)
			schedule()

		case <-timer.C:
			pending = false
			reload()
		}
	}
}

// loadAndApply loads the folder and hands the bundle to apply; it returns
// the digest of what it applied. With active nil it is the first load:
// errors are returned for Watch to return. Otherwise it is a reload:
// errors are logged, and a folder whose digest equals *active is not
// applied again (the error is then errUnchanged).
//
// The bundle is handed over, not kept: once apply has compiled it, the
// decoded resources are garbage (apply may release the memory at once).
func (l *Loader) loadAndApply(ctx context.Context, apply func(policy.Bundle) error, active *[sha256.Size]byte) ([sha256.Size]byte, error) {
	r, err := l.load()
	if err != nil {
		logProblems(ctx, l.log, err)
		if active == nil {
			return r.digest, fmt.Errorf("loading %s: %w", l.dir, err)
		}
		l.log.WarnContext(ctx, "configuration not reloaded; keeping the last good one", "dir", l.dir, "problems", len(Errors(err)))
		return r.digest, err
	}
	if active != nil && r.digest == *active {
		l.log.DebugContext(ctx, "configuration unchanged", "dir", l.dir)
		return r.digest, errUnchanged
	}
	digest := r.digest
	var attrs []any // taken now: the bundle is not ours once applied
	if l.log.Enabled(ctx, slog.LevelInfo) {
		attrs = summary(l.dir, r)
	}
	if err := apply(r.bundle); err != nil {
		if active == nil {
			return digest, fmt.Errorf("configuration in %s rejected: %w", l.dir, err)
		}
		l.log.ErrorContext(ctx, "configuration rejected; keeping the last good one", "dir", l.dir, "error", err)
		return digest, err
	}
	msg := "configuration reloaded"
	if active == nil {
		msg = "configuration loaded"
	}
	l.log.InfoContext(ctx, msg, attrs...)
	return digest, nil
}

var errUnchanged = errors.New("configuration unchanged")

// summary describes a loaded configuration for the log: counts and
// names, never Secret contents.
func summary(dir string, r loaded) []any {
	b := r.bundle
	secrets := make([]string, 0, len(b.Secrets))
	for _, s := range b.Secrets {
		secrets = append(secrets, s.Namespace+"/"+s.Name)
	}
	return []any{
		"dir", dir,
		"files", r.files,
		"policies", len(b.Policies),
		"apiKeys", len(b.APIKeys),
		"oauthClients", len(b.OAuthClients),
		"secrets", secrets,
	}
}
