package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/wpauthz/wpauthz/authz/jwtauth"
	"github.com/wpauthz/wpauthz/authz/policy"
	"github.com/wpauthz/wpauthz/configdir"
)

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Work with wpauthz-issued JWTs"}
	cmd.AddCommand(newTokenMintCommand())
	return cmd
}

func newTokenMintCommand() *cobra.Command {
	var (
		configDir, policyName, login string
		userID                       int64
		roles                        []string
		ttl                          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "mint",
		Short: "Sign an access token with a policy's JWT key (standalone admin tool)",
		Example: `  wpauthz token mint --config-dir config/samples/local --policy default/local \
    --user-id 2 --login jane --role editor`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			loader, err := configdir.NewLoader(configDir, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			b, err := loader.Load()
			if err != nil {
				return err
			}
			snap, problems := policy.Compile(b, policy.Options{})
			ns, name := splitNamespacedName(policyName)
			for _, p := range problems {
				if p.Kind == "WPApiPolicy" && p.Namespace == ns && p.Name == name {
					return p
				}
			}
			var pol *policy.Policy
			for _, p := range snap.Policies() {
				if p.Namespace == ns && p.Name == name {
					pol = p
				}
			}
			if pol == nil {
				return fmt.Errorf("no WPApiPolicy %s/%s in %s", ns, name, configDir)
			}
			if pol.JWT == nil {
				return errors.New("the policy does not enable spec.authentication.jwt")
			}
			if userID <= 0 {
				return errors.New("--user-id is required")
			}
			if ttl == 0 {
				ttl = pol.JWTAccessTTL
			}
			tok, err := pol.JWT.Mint(jwtauth.Claims{
				Subject: strconv.FormatInt(userID, 10), UserID: userID, Login: login, Roles: roles,
			}, ttl, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&configDir, "config-dir", "config/samples/local", "folder holding the policy and its key Secret")
	f.StringVar(&policyName, "policy", "default/local", "WPApiPolicy as namespace/name")
	f.Int64Var(&userID, "user-id", 0, "WordPress user ID (sub)")
	f.StringVar(&login, "login", "", "WordPress login")
	f.StringSliceVar(&roles, "role", nil, "WordPress role (repeatable)")
	f.DurationVar(&ttl, "ttl", 0, "lifetime (default: the policy's accessTokenTTL)")
	return cmd
}
