package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagError turns an error from parsing cmd's flags into a usage error.
// For an unknown long flag it names the command's closest flag, the way
// cobra suggests a misspelt command. For an unknown shorthand it drops the
// rest of the argument, which pflag quotes and which may hold a value,
// as in -zVALUE.
func flagError(cmd *cobra.Command, err error) error {
	if msg, _, ok := strings.Cut(err.Error(), " in -"); ok && strings.HasPrefix(msg, "unknown shorthand flag: ") {
		return &usageError{errors.New(msg)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "unknown flag: --"); ok {
		if near := closestFlag(cmd, name); near != "" {
			err = fmt.Errorf("%w (did you mean --%s?)", err, near)
		}
	}
	return &usageError{err}
}

// requireKnownSubcommands makes every command group under root reject an
// argument that names none of its subcommands, with a usage error that
// suggests the nearest one. Without this, cobra shows such a group's help
// and exits 0, so that "secret key rotat" would look like a success to a
// script. root itself already rejects unknown commands.
func requireKnownSubcommands(root *cobra.Command) {
	for _, cmd := range root.Commands() {
		requireKnownSubcommands(cmd)
		if !cmd.HasSubCommands() || cmd.Runnable() {
			continue
		}
		cmd.Args = unknownSubcommand
		// cobra applies its default of 2 only to the root's suggestions.
		cmd.SuggestionsMinimumDistance = 2
		cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
}

// unknownSubcommand is the argument check of a command group: any
// argument is a subcommand that the group does not have.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if near := cmd.SuggestionsFor(args[0]); len(near) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(near, "\n\t") + "\n"
	}
	return &usageError{errors.New(msg)}
}

// closestFlag returns the name of cmd's flag, its own or inherited, that
// is nearest to name: within two edits, or starting with name. It returns
// "" when no flag is that near.
func closestFlag(cmd *cobra.Command, name string) string {
	best, bestDistance := "", 3
	consider := func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(name, f.Name)
		if len(name) >= 3 && strings.HasPrefix(f.Name, name) {
			d = min(d, 1)
		}
		if d < bestDistance || (d == bestDistance && f.Name < best) {
			best, bestDistance = f.Name, d
		}
	}
	cmd.LocalFlags().VisitAll(consider)
	cmd.InheritedFlags().VisitAll(consider)
	return best
}

// editDistance returns the Levenshtein distance between a and b, counted
// in bytes, which is enough for flag names.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
