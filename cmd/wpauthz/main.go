// Command wpauthz is the WordPress REST API authorization server: `serve`
// runs it (standalone from a folder of resources, or in a cluster), and a
// few admin subcommands help operators.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	// Root CAs for TLS (OIDC providers, Redis with rediss://) where the
	// system has none, as in the container image, whose only file is this
	// binary. A system's own roots, where present, still win.
	_ "golang.org/x/crypto/x509roots/fallback"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "wpauthz:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "wpauthz",
		Short:         "Authorization for the WordPress REST API, at the service mesh",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       binaryVersion(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newServeCommand(), newTokenCommand(), newAPIKeyCommand(), newIdentityCommand(), newVersionCommand())
	return root
}

// newLogger returns a JSON or text logger at the given level.
func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want json or text, got %q", format)
}
