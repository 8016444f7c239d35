package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/execvault/execvault/secrets"
)

// rotationPollInterval is how often key rotate checks the re-encryption.
var rotationPollInterval = 100 * time.Millisecond

func (a *app) newSecretKeyCommand() *cobra.Command {
	key := &cobra.Command{Use: "key", Short: "Manage the data keys and the master key"}

	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Create a new data key and re-encrypt every value with it",
		Long: `Create a new data key for new writes and re-encrypt every stored value
with it. Values stay readable throughout. The command waits until the
re-encryption finishes; if it is interrupted, the next open of the store
resumes it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				info, err := m.RotateDataKey(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Data key %d is active; re-encrypting stored values\n", info.ID)
				if err := waitForRotation(ctx, m); err != nil {
					return err
				}
				fmt.Fprintln(a.stderr, "Re-encryption finished")
				return nil
			})
		},
	}

	var asJSON bool
	status := &cobra.Command{
		Use:   "status [--json]",
		Short: "List the data keys and how many values each encrypts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				st, err := m.KeyStatus(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSONTo(a.stdout, st)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "id\tcreatedAt\tactive\tvalues")
				for _, k := range st.DataKeys {
					active := ""
					if k.Active {
						active = "*"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\n", k.ID, formatTime(k.CreatedAt), active, k.Values)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				if st.Rotating {
					fmt.Fprintln(a.stderr, "Re-encryption with the active data key is in progress")
				}
				return nil
			})
		},
	}
	status.Flags().BoolVarP(&asJSON, "json", "j", false, "print JSON instead of a table")

	retire := &cobra.Command{
		Use:   "retire ID",
		Short: "Remove a data key that no stored value uses",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseUint(args[0], 10, 32)
			if err != nil {
				return &usageError{fmt.Errorf("invalid data key id %q: use an id from 'secret key status'", args[0])}
			}
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				if err := m.RetireDataKey(ctx, uint32(id)); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "Data key %d retired\n", id)
				return nil
			})
		},
	}

	var newKeyFile string
	changeMaster := &cobra.Command{
		Use:   "change-master [--new-key-file FILE]",
		Short: "Re-wrap the data keys under a new master key",
		Long: `Re-wrap the data keys under a new master key; no value is re-encrypted.

With --new-key-file, the new key is read from FILE, which is created with
a random key (mode 0600) when it does not exist. Without it, the new key is
read from standard input as base64 of 32 bytes. From then on, open the
store with the new key (--key-file or EXECVAULT_MASTER_KEY).`,
		Args: noArgsHidden("pass the new key on standard input or with --new-key-file"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			next, created, err := a.readNewMasterKey(cmd.Context(), newKeyFile)
			if err != nil {
				return err
			}
			if created {
				fmt.Fprintf(a.stderr, "Created master key file %s\n", newKeyFile)
			}
			return a.withManager(cmd.Context(), func(ctx context.Context, m secrets.Manager) error {
				if err := m.RewrapKEK(ctx, next); err != nil {
					return err
				}
				where := "the key given on standard input"
				if newKeyFile != "" {
					where = "--key-file " + newKeyFile
				}
				fmt.Fprintf(a.stderr, "Master key changed; open the store with %s from now on\n", where)
				return nil
			})
		},
	}
	changeMaster.Flags().StringVar(&newKeyFile, "new-key-file", "", "file holding the new master key in base64, created when missing")

	key.AddCommand(rotate, status, retire, changeMaster)
	return key
}

// readNewMasterKey reads the new master key from path, creating the file
// when it does not exist, or from stdin when path is empty.
func (a *app) readNewMasterKey(ctx context.Context, path string) (key secrets.MasterKey, created bool, err error) {
	if path == "" {
		var data []byte
		var err error
		if isTerminal(a.stdin) {
			fmt.Fprint(a.stderr, "New master key, base64 of 32 bytes (input hidden): ")
			data, err = a.readInterruptible(ctx, func() ([]byte, error) { return readPassword(a.stdin) })
			fmt.Fprintln(a.stderr)
		} else {
			data, err = io.ReadAll(io.LimitReader(a.stdin, 1024))
		}
		if err != nil {
			return secrets.MasterKey{}, false, fmt.Errorf("read new master key from standard input: %w", err)
		}
		defer clear(data)
		key, err := secrets.ParseMasterKey(data)
		if err != nil {
			return secrets.MasterKey{}, false, fmt.Errorf("read new master key from standard input: %w", err)
		}
		return key, false, nil
	}

	data, err := os.ReadFile(path)
	if err == nil {
		defer clear(data)
		key, err := secrets.ParseMasterKey(data)
		if err != nil {
			return secrets.MasterKey{}, false, fmt.Errorf("read new master key file %s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return secrets.MasterKey{}, false, fmt.Errorf("read new master key file: %w", err)
	}
	key, err = secrets.GenerateMasterKey()
	if err != nil {
		return secrets.MasterKey{}, false, err
	}
	if err := secrets.WriteKeyFile(path, key); err != nil {
		return secrets.MasterKey{}, false, err
	}
	return key, true, nil
}

// waitForRotation polls the key status until re-encryption finishes.
func waitForRotation(ctx context.Context, m secrets.Manager) error {
	ticker := time.NewTicker(rotationPollInterval)
	defer ticker.Stop()
	for {
		st, err := m.KeyStatus(ctx)
		if err != nil {
			return err
		}
		if !st.Rotating {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for re-encryption: %w; it resumes the next time the store opens", ctx.Err())
		case <-ticker.C:
		}
	}
}
