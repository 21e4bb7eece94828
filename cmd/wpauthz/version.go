package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time from the VERSION file (make build, make
// image, the Dockerfile: -ldflags "-X main.version=…"); the chart's
// appVersion and the image tag are the same string.
var version string

// binaryVersion is the linked-in version, else the module version of a
// `go install …@vX` build, else "dev".
func binaryVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), binaryVersion())
			return err
		},
	}
}
