package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/wpauthz/wpauthz/authz/identity"
	"github.com/wpauthz/wpauthz/authz/policy"
)

func newIdentityCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "identity", Short: "Work with the key that signs X-WPAuthz-Identity"}
	cmd.AddCommand(&cobra.Command{
		Use:   "generate",
		Short: "Print a new Ed25519 identity signing key (PKCS#8 PEM), for --identity-key or spec.identity.signingKeySecretRef",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, key, err := ed25519.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return err
			}
			return pem.Encode(cmd.OutOrStdout(), &pem.Block{Type: "PRIVATE KEY", Bytes: der})
		},
	})
	var keyFile, format string
	pub := &cobra.Command{
		Use:   "public-key",
		Short: "Print the public half of an identity signing key: the WPAUTHZ_PUBLIC_KEY of the WordPress bridge plugin",
		Long: `public-key reads an identity signing key (PKCS#8 PEM or a 32-byte seed,
the same forms --identity-key accepts; "-" reads standard input) and prints
its public key for wp-config.php: base64 of the raw 32 bytes (--format
base64, the default) or an SPKI PEM block (--format pem). The key ID
wpauthz puts in the assertion's "kid" goes to standard error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var raw []byte
			var err error
			switch keyFile {
			case "":
				return fmt.Errorf("--identity-key is required")
			case "-":
				raw, err = io.ReadAll(cmd.InOrStdin())
			default:
				raw, err = os.ReadFile(keyFile)
			}
			if err != nil {
				return fmt.Errorf("--identity-key: %w", err)
			}
			key, err := identity.ParseSigningKey(raw)
			if err != nil {
				return fmt.Errorf("--identity-key: %w", err)
			}
			pk := key.Public().(ed25519.PublicKey)
			switch format {
			case "base64":
				fmt.Fprintln(cmd.OutOrStdout(), base64.StdEncoding.EncodeToString(pk))
			case "pem":
				der, err := x509.MarshalPKIXPublicKey(pk)
				if err != nil {
					return err
				}
				if err := pem.Encode(cmd.OutOrStdout(), &pem.Block{Type: "PUBLIC KEY", Bytes: der}); err != nil {
					return err
				}
			default:
				return fmt.Errorf("--format: want base64 or pem, got %q", format)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "kid:", policy.KeyID(pk))
			return nil
		},
	}
	pub.Flags().StringVar(&keyFile, "identity-key", "", `the signing key file ("-": standard input)`)
	pub.Flags().StringVar(&format, "format", "base64", "base64 (raw 32 bytes) or pem (SPKI)")
	cmd.AddCommand(pub)
	return cmd
}
