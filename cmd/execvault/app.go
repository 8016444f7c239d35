package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// app carries what every command shares: the streams and the global flags.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	// dataDir and keyFile are the global --data-dir and --key-file flags,
	// already defaulted from the environment by resolvePaths.
	dataDir string
	keyFile string

	// getenv reads the environment; tests replace it.
	getenv func(string) string

	root *cobra.Command
}

// usageError marks an error caused by the command line itself; it exits 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCodeError carries a specific exit status for a failure whose message
// was already printed.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}

	root := &cobra.Command{
		Use:           "execvault",
		Short:         "Run executor plugins compiled to WebAssembly and manage their secrets",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&a.dataDir, "data-dir", "",
		"data directory (default $EXECVAULT_DATA_DIR, else $XDG_DATA_HOME/execvault or ~/.local/share/execvault)")
	root.PersistentFlags().StringVar(&a.keyFile, "key-file", "",
		"master key file, created with mode 0600 with a new store by 'secret vault create' or 'run' (default $EXECVAULT_KEY_FILE, else $XDG_CONFIG_HOME/execvault/master.key or ~/.config/execvault/master.key); ignored when $EXECVAULT_MASTER_KEY or $EXECVAULT_PASSPHRASE is set")
	root.SetFlagErrorFunc(flagError)
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := rejectEmptyPathFlags(cmd); err != nil {
			return err
		}
		return a.resolvePaths()
	}

	a.root = root
	for _, add := range commandAdders {
		add(a, root)
	}
	requireKnownSubcommands(root)
	return a
}

// commandAdders holds one function per command group; each file that
// defines a group appends to it in init.
var commandAdders []func(*app, *cobra.Command)

func (a *app) execute(ctx context.Context, args []string) int {
	a.root.SetArgs(args)
	err := a.root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}

	var codeErr *exitCodeError
	if errors.As(err, &codeErr) {
		return codeErr.code
	}
	text := errorText(err)
	if isArgCountError(err) {
		// Cobra's text counts the arguments but does not name them.
		if cmd, _, ferr := a.root.Find(args); ferr == nil && cmd != nil {
			text += "; usage: " + cmd.UseLine()
		}
	}
	fmt.Fprintln(a.stderr, text)
	var usage *usageError
	if errors.As(err, &usage) || isCobraUsageError(err) {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", a.commandPath(args))
		return exitUsage
	}
	return exitError
}

// commandPath returns the path of the command that args select, such as
// "execvault secret create", for pointing at its help.
func (a *app) commandPath(args []string) string {
	cmd, _, err := a.root.Find(args)
	if err != nil || cmd == nil {
		return a.root.CommandPath()
	}
	return cmd.CommandPath()
}

// isCobraUsageError recognises the argument errors cobra returns for
// unknown commands and wrong argument counts.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "accepts ", "requires ", "unknown flag", "unknown shorthand flag", "flag needs an argument", "required flag"} {
		if len(msg) >= len(prefix) && msg[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// isArgCountError recognises cobra's errors for a wrong number of
// positional arguments.
func isArgCountError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "accepts ") || strings.HasPrefix(msg, "requires at least ")
}

// errorText formats an error for the terminal. Errors that carry a
// platform-compatible message print it as is.
func errorText(err error) string {
	var msg interface{ UserMessage() string }
	if errors.As(err, &msg) {
		return msg.UserMessage()
	}
	return "Error: " + err.Error()
}

// rejectEmptyPathFlags fails when --data-dir or --key-file is given an
// empty value, as "$DIR" with DIR unset gives. An empty value would
// otherwise select the default directory in the home directory, so a
// script meant for another store would create or change that one.
func rejectEmptyPathFlags(cmd *cobra.Command) error {
	for _, name := range []string{"data-dir", "key-file"} {
		f := cmd.Flags().Lookup(name)
		if f != nil && f.Changed && f.Value.String() == "" {
			return &usageError{fmt.Errorf("invalid --%s %q: name a path, or leave the flag out to use the default", name, f.Value.String())}
		}
	}
	return nil
}

// resolvePaths fills dataDir and keyFile from the flags, the environment and
// the XDG base directories, in that order.
func (a *app) resolvePaths() error {
	home := func() (string, error) {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find home directory: %w; set --data-dir and --key-file", err)
		}
		return h, nil
	}

	if a.dataDir == "" {
		a.dataDir = a.getenv("EXECVAULT_DATA_DIR")
	}
	if a.dataDir == "" {
		base := a.getenv("XDG_DATA_HOME")
		if base == "" {
			h, err := home()
			if err != nil {
				return err
			}
			base = filepath.Join(h, ".local", "share")
		}
		a.dataDir = filepath.Join(base, "execvault")
	}

	if a.keyFile == "" {
		a.keyFile = a.getenv("EXECVAULT_KEY_FILE")
	}
	if a.keyFile == "" {
		base := a.getenv("XDG_CONFIG_HOME")
		if base == "" {
			h, err := home()
			if err != nil {
				return err
			}
			base = filepath.Join(h, ".config")
		}
		a.keyFile = filepath.Join(base, "execvault", "master.key")
	}
	return nil
}
