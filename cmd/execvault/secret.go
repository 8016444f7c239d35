package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/execvault/execvault/secrets"
)

func init() { commandAdders = append(commandAdders, addSecretCommands) }

// Hooks that tests replace: the store clock and the terminal functions.
var (
	secretNow = time.Now

	isTerminal = func(r io.Reader) bool {
		f, ok := r.(*os.File)
		return ok && term.IsTerminal(int(f.Fd()))
	}

	readPassword = func(r io.Reader) ([]byte, error) {
		f, ok := r.(*os.File)
		if !ok {
			return nil, errors.New("read hidden input: stdin is not a terminal")
		}
		return term.ReadPassword(int(f.Fd()))
	}

	// saveTerminal returns a function that puts the terminal r back in its
	// current state, or one that does nothing when r is not a terminal.
	saveTerminal = func(r io.Reader) func() {
		f, ok := r.(*os.File)
		if !ok {
			return func() {}
		}
		state, err := term.GetState(int(f.Fd()))
		if err != nil {
			return func() {}
		}
		return func() { _ = term.Restore(int(f.Fd()), state) }
	}
)

// readInterruptible runs read, which waits for the user, until it returns
// or ctx ends. main turns Ctrl-C into the end of ctx, and a read blocked on
// the terminal does not see it, so the read runs in its own goroutine. On
// cancellation the terminal is restored, because a hidden read may have
// turned echo off, and the goroutine is left to end with the process.
func (a *app) readInterruptible(ctx context.Context, read func() ([]byte, error)) ([]byte, error) {
	restore := saveTerminal(a.stdin)
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := read()
		done <- result{data, err}
	}()

	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		restore()
		return nil, ctx.Err()
	}
}

// secretActor is the actor the CLI records in the audit log.
const secretActor = "cli"

func addSecretCommands(a *app, root *cobra.Command) {
	secret := &cobra.Command{
		Use:   "secret",
		Short: "Manage vaults and secrets",
		Long: `Manage vaults and the secrets that executor webhook headers reference.

Values are encrypted at rest and never listed. Commands talk to a running
execvault through <data dir>/admin.sock when it accepts connections, and
open the store directly otherwise. A master key given to the command must
match the store's in both cases.

Values passed with --value-stdin or --value-file lose one trailing newline
(\n or \r\n), so "echo VALUE |" and files saved by editors store VALUE.
--value is stored exactly as given.`,
	}
	secret.AddCommand(
		a.newSecretVaultCommand(),
		a.newSecretCreateCommand(),
		a.newSecretUpdateCommand(),
		a.newSecretListCommand(),
		a.newSecretDeleteCommand(),
		a.newSecretGetCommand(),
		a.newSecretVersionsCommand(),
		a.newSecretRollbackCommand(),
		a.newSecretAuditCommand(),
		a.newSecretKeyCommand(),
		a.newSecretExportCommand(),
		a.newSecretImportCommand(),
	)
	root.AddCommand(secret)
}

// withManager runs fn with the admin client of a running execvault, or
// with the store opened directly, and closes it afterwards. The store must
// exist: a mistyped data directory must not become a new, empty store
// bound to a new key file.
func (a *app) withManager(ctx context.Context, fn func(ctx context.Context, m secrets.Manager) error) error {
	return a.withStore(ctx, false, fn)
}

// withNewOrExistingManager is withManager for the commands that may
// create the store, and its master key file, in a new data directory.
func (a *app) withNewOrExistingManager(ctx context.Context, fn func(ctx context.Context, m secrets.Manager) error) error {
	return a.withStore(ctx, true, fn)
}

// noStoreError adds to err, which wraps secrets.ErrNoStore, how to create
// a store or find the existing one.
func noStoreError(err error) error {
	return fmt.Errorf("%w: 'execvault secret vault create NAME' creates one; if the store is elsewhere, set --data-dir or EXECVAULT_DATA_DIR", err)
}

func (a *app) withStore(ctx context.Context, create bool, fn func(ctx context.Context, m secrets.Manager) error) error {
	ctx = secrets.WithActor(ctx, secretActor)
	m, err := a.openManager(ctx, create)
	if errors.Is(err, secrets.ErrNoStore) {
		return noStoreError(err)
	}
	if err != nil {
		return cliError(err)
	}
	err = suggestStoredName(ctx, m, cliError(fn(ctx, m)))
	if cerr := m.Close(); err == nil && cerr != nil {
		err = cliError(cerr)
	}
	return err
}

// secretConfig returns the configuration that the secret commands open
// the store with.
func (a *app) secretConfig(create bool) secrets.Config {
	cfg := secrets.DefaultConfig(a.dataDir)
	cfg.MustExist = !create
	cfg.KeyFile = a.keyFile
	cfg.Getenv = a.getenv
	cfg.Now = secretNow
	cfg.Logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return cfg
}

func (a *app) openManager(ctx context.Context, create bool) (secrets.Manager, error) {
	cfg := a.secretConfig(create)

	// Through the socket, the running execvault's key serves the request
	// and the socket's mode 0600 is the access control. A key given to
	// this command must still match the store's, as it must without it.
	socket := filepath.Join(a.dataDir, "admin.sock")
	var dialErr error
	if _, err := os.Stat(socket); err == nil {
		if err := secrets.CheckMasterKey(cfg); err != nil && !errors.Is(err, secrets.ErrNoMasterKey) {
			return nil, err
		}
		client, err := secrets.DialAdmin(socket)
		if err == nil {
			return client, nil
		}
		// A socket left by a runtime that crashed refuses connections, and
		// then the store is free to open directly.
		dialErr = err
	}

	store, err := secrets.Open(ctx, cfg)
	if err != nil && dialErr != nil {
		return nil, fmt.Errorf("%w (the admin socket of a running execvault did not accept a connection either: %v)", err, dialErr)
	}
	if err != nil {
		return nil, err
	}
	if path := store.CreatedKeyFile(); path != "" {
		fmt.Fprintf(a.stderr, "Created master key file %s; back it up, because the secrets cannot be read without it.\n", path)
	}
	return store, nil
}

// platformError prints the reference platform's text for an error.
type platformError struct {
	msg string
	err error
}

func (e *platformError) Error() string       { return e.err.Error() }
func (e *platformError) Unwrap() error       { return e.err }
func (e *platformError) UserMessage() string { return e.msg }

// storeErrorNames returns the vault and secret names that a store error
// carries, and false for any other error.
func storeErrorNames(err error) (vault, name string, ok bool) {
	var se *secrets.SecretError
	var ve *secrets.VaultError
	switch {
	case errors.As(err, &se):
		return se.Vault, se.Name, true
	case errors.As(err, &ve):
		return ve.Vault, "", true
	}
	return "", "", false
}

// cliError maps store errors to the platform's messages where it has one.
func cliError(err error) error {
	if err == nil {
		return nil
	}
	vault, name, ok := storeErrorNames(err)
	if !ok {
		return err
	}
	switch {
	case errors.Is(err, secrets.ErrVaultNotFound):
		return &platformError{fmt.Sprintf("Vault %q not found.", vault), err}
	case errors.Is(err, secrets.ErrVaultExists):
		return &platformError{fmt.Sprintf("Vault %q already exists.", vault), err}
	case errors.Is(err, secrets.ErrSecretExists):
		return &platformError{fmt.Sprintf("Secret %q already exists.", name), err}
	case errors.Is(err, secrets.ErrSecretNotFound):
		return &platformError{fmt.Sprintf("Secret %q not found in vault %q.", name, vault), err}
	}
	return err
}

// suggestStoredName adds to a vault or secret not-found message the
// nearest name that m lists, so that a misspelt name does not read like a
// missing vault or secret. Other errors, and a listing that fails, leave
// err as it is.
func suggestStoredName(ctx context.Context, m secrets.Manager, err error) error {
	var pe *platformError
	if !errors.As(err, &pe) {
		return err
	}
	vault, name, _ := storeErrorNames(err)

	var missing string
	var names []string
	switch {
	case errors.Is(err, secrets.ErrVaultNotFound):
		vaults, listErr := m.ListVaults(ctx)
		if listErr != nil {
			return err
		}
		for _, v := range vaults {
			names = append(names, v.Name)
		}
		missing = vault
	case errors.Is(err, secrets.ErrSecretNotFound):
		list, listErr := m.ListSecrets(ctx, vault)
		if listErr != nil {
			return err
		}
		for _, s := range list {
			names = append(names, s.Name)
		}
		missing = name
	default:
		return err
	}
	near := closestName(missing, names)
	if near == "" {
		return err
	}
	return &platformError{msg: fmt.Sprintf("%s\nDid you mean %q?", pe.msg, near), err: pe.err}
}

// noArgsHidden returns an argument check that rejects any positional
// argument without repeating it. On the commands that read a secret value
// or key, a stray argument is most often part of one: an unquoted value
// with spaces, or a value after a mistyped flag. hint describes how to
// pass it.
func noArgsHidden(hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		return &usageError{fmt.Errorf("%s takes no arguments, got %d (not shown, because they may be part of a secret); %s", cmd.CommandPath(), len(args), hint)}
	}
}

// valueArgs is the argument check of the commands that take a value flag.
var valueArgs = noArgsHidden("quote a value that contains spaces, or pass it with --value-stdin")

// valueFlags are the three ways to pass a secret value.
type valueFlags struct {
	value      string
	valueFile  string
	valueStdin bool
}

func (f *valueFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.value, "value", "v", "", "secret value, stored exactly as given (visible in shell history and process lists; prefer --value-stdin)")
	cmd.Flags().StringVar(&f.valueFile, "value-file", "", "read the value from this file, less one trailing newline")
	cmd.Flags().BoolVar(&f.valueStdin, "value-stdin", false, "read the value from standard input, less one trailing newline")
}

// readValue returns the value from the flag that was set, or from a hidden
// prompt when none was and stdin is a terminal.
func (a *app) readValue(cmd *cobra.Command, f *valueFlags, name string) (secrets.Value, error) {
	set := 0
	for _, flag := range []string{"value", "value-file", "value-stdin"} {
		if cmd.Flags().Changed(flag) {
			set++
		}
	}
	if set > 1 {
		return secrets.Value{}, &usageError{errors.New("use only one of --value, --value-file and --value-stdin")}
	}

	switch {
	case cmd.Flags().Changed("value"):
		if isTerminal(a.stdin) {
			fmt.Fprintln(a.stderr, "Hint: --value leaves the value in your shell history; use --value-stdin, or omit --value to be prompted.")
		}
		return secrets.NewValueString(f.value), nil
	case f.valueFile != "":
		file, err := os.Open(f.valueFile)
		if err != nil {
			return secrets.Value{}, fmt.Errorf("read value file: %w", err)
		}
		defer file.Close()
		return readValueFrom(file, "value file "+f.valueFile)
	case f.valueStdin:
		return readValueFrom(a.stdin, "standard input")
	}

	if !isTerminal(a.stdin) {
		return secrets.Value{}, &usageError{errors.New("missing value: pass --value-stdin, --value-file FILE or --value VALUE")}
	}
	fmt.Fprintf(a.stderr, "Value for secret %s (input hidden): ", name)
	data, err := a.readInterruptible(cmd.Context(), func() ([]byte, error) { return readPassword(a.stdin) })
	fmt.Fprintln(a.stderr)
	if err != nil && cmd.Context().Err() != nil {
		return secrets.Value{}, fmt.Errorf("read value for secret %q: cancelled at the prompt", name)
	}
	if err != nil {
		return secrets.Value{}, fmt.Errorf("read value from terminal: %w", err)
	}
	defer clear(data)
	return secrets.NewValue(trimNewline(data)), nil
}

// maxValueInput bounds what is read for a value. The store rejects values
// above its own limit with a clear error.
const maxValueInput = 1<<20 + 2

func readValueFrom(r io.Reader, source string) (secrets.Value, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxValueInput+1))
	if err != nil {
		return secrets.Value{}, fmt.Errorf("read value from %s: %w", source, err)
	}
	defer clear(data)
	if len(data) > maxValueInput {
		return secrets.Value{}, fmt.Errorf("read value from %s: %w: more than %d bytes", source, secrets.ErrValueTooLarge, maxValueInput-2)
	}
	return secrets.NewValue(trimNewline(data)), nil
}

// trimNewline drops one trailing "\n" or "\r\n".
func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// confirmDeletion prompts the user to type name on a terminal. Without a
// terminal it fails with a message to pass --yes.
func (a *app) confirmDeletion(ctx context.Context, kind, name string) error {
	if !isTerminal(a.stdin) {
		return &usageError{fmt.Errorf("delete %s %q: stdin is not a terminal, so confirmation is impossible; pass --yes", kind, name)}
	}
	fmt.Fprintf(a.stderr, "Type the %s name %q to confirm deletion: ", kind, name)
	line, err := a.readInterruptible(ctx, func() ([]byte, error) {
		return bufio.NewReader(a.stdin).ReadBytes('\n')
	})
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(a.stderr)
		return fmt.Errorf("delete %s %q: cancelled before confirmation", kind, name)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read confirmation: %w", err)
	}
	if strings.TrimSpace(string(line)) != name {
		return fmt.Errorf("delete %s %q: cancelled, the typed name does not match", kind, name)
	}
	return nil
}

// formatTime prints times in tables.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
