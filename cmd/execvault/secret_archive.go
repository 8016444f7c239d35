package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/execvault/execvault/secrets"
)

func (a *app) newSecretExportCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export -o FILE",
		Short: "Write every vault and secret to an encrypted archive",
		Long: `Write every vault and secret, with their kept versions, to an archive
encrypted under the master key. Only a store opened with the same master
key (or passphrase) can import it. FILE is written with mode 0600.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return &usageError{errors.New("missing -o FILE: name the archive to write")}
			}
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				if err := exportToFile(ctx, m, out); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Secrets exported to %s\n", out)
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "archive file to write (required)")
	return cmd
}

// exportToFile writes the archive to a temporary file beside path and
// renames it into place, so a failed export leaves no partial archive.
func exportToFile(ctx context.Context, m secrets.Manager, path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("create archive %s: directory %s does not exist; create it first or choose another --output", path, dir)
	}
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		// The temporary file's name would only confuse.
		return fmt.Errorf("create archive %s in directory %s: %w", path, dir, pe.Err)
	}
	if err != nil {
		return fmt.Errorf("create archive %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(fmt.Errorf("create archive %s: %w", path, err))
	}
	if err := m.Export(ctx, f); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("write archive %s: %w", path, err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write archive %s: %w", path, err)
	}
	return nil
}

func (a *app) newSecretImportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE",
		Short: "Restore an archive written by export into an empty store",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("open archive: %w", err)
			}
			defer f.Close()
			if err := a.checkImportKey(); err != nil {
				return err
			}
			report := func(res secrets.ImportResult) {
				fmt.Fprintf(a.stderr, "Imported %s and %s from %s\n", plural(res.Vaults, "vault"), plural(res.Secrets, "secret"), args[0])
			}
			if adminSocketLive(filepath.Join(a.dataDir, "admin.sock")) {
				return a.withNewOrExistingManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
					res, err := m.Import(ctx, f)
					if err == nil {
						report(res)
					}
					return err
				})
			}
			// ImportInto removes a store it created when the import
			// fails, so a wrong key leaves no store bound to it.
			res, err := secrets.ImportInto(secrets.WithActor(cmd.Context(), secretActor), a.secretConfig(true), f)
			if err != nil {
				return cliError(err)
			}
			report(res)
			return nil
		},
	}
}

// checkImportKey fails when the store would be opened with a master key
// file that does not exist. Opening would generate a new key and create an
// empty store bound to it, but an archive opens only with the key it was
// exported with, so the import would fail and the store would then reject
// that key too. A running execvault imports with its own key.
func (a *app) checkImportKey() error {
	if a.getenv(secrets.EnvMasterKey) != "" || a.getenv(secrets.EnvPassphrase) != "" {
		return nil
	}
	if _, err := os.Stat(a.keyFile); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if adminSocketLive(filepath.Join(a.dataDir, "admin.sock")) {
		return nil
	}
	return fmt.Errorf("import: key file %s does not exist, and the archive opens only with the master key it was exported with: copy that key file there, or set --key-file, %s or %s", a.keyFile, secrets.EnvMasterKey, secrets.EnvPassphrase)
}
