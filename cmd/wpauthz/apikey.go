package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wpauthz/wpauthz/authz/apikey"
)

func newAPIKeyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Work with API keys"}
	cmd.AddCommand(&cobra.Command{
		Use:   "generate",
		Short: "Print a new random API key (wpk_…) and its fingerprint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := apikey.Generate()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k)
			fmt.Fprintln(cmd.ErrOrStderr(), "fingerprint:", apikey.Sum(k).Fingerprint())
			return nil
		},
	})
	return cmd
}
