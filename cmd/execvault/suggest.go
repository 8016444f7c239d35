package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagError turns an error from parsing cmd's flags into a usage error.
// A value that does not parse is named with what the flag takes, except
// the value of a switch, which is not shown.
// For an unknown long flag it names the command's closest flag, the way
// cobra suggests a misspelt command. For an unknown shorthand it drops the
// rest of the argument, which pflag quotes and which may hold a value,
// as in -zVALUE.
func flagError(cmd *cobra.Command, err error) error {
	if msg, _, ok := strings.Cut(err.Error(), " in -"); ok && strings.HasPrefix(msg, "unknown shorthand flag: ") {
		return &usageError{errors.New(msg)}
	}
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		name := invalid.GetFlag().Name
		if invalid.GetFlag().Value.Type() == "bool" {
			// A value given to a switch may be a secret typed where a
			// value flag was meant, as in --value-stdin=VALUE.
			return &usageError{fmt.Errorf("invalid --%s=VALUE (value not shown): --%s takes no value; pass --%s alone, or --%s=false", name, name, name, name)}
		}
		if want := flagValueHint(invalid.GetFlag().Value.Type()); want != "" {
			if errors.Is(err, strconv.ErrRange) {
				want = "out of range; use a number nearer zero"
			}
			return &usageError{fmt.Errorf("invalid --%s %q: %s", name, invalid.GetValue(), want)}
		}
	}
	if name, ok := strings.CutPrefix(err.Error(), "unknown flag: --"); ok {
		if near := closestFlag(cmd, name); near != "" {
			err = fmt.Errorf("%w (did you mean --%s?)", err, near)
		}
	}
	return &usageError{err}
}

// flagValueHint returns what a flag of the pflag value type typ takes,
// to replace the strconv or time parse error that pflag reports, or ""
// for a type without a hint.
func flagValueHint(typ string) string {
	switch typ {
	case "int", "int64":
		return "use a whole number"
	case "uint", "uint64":
		return "use a whole number, 0 or more"
	case "duration":
		return "use a number with a unit, such as 500ms, 10s or 2m"
	}
	return ""
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
// is nearest to name by closestName. It returns "" when no flag is that
// near.
func closestFlag(cmd *cobra.Command, name string) string {
	var names []string
	collect := func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	}
	cmd.LocalFlags().VisitAll(collect)
	cmd.InheritedFlags().VisitAll(collect)
	return closestName(name, names)
}

// closestName returns the candidate nearest to name, ignoring case, or ""
// when none is near or name itself is a candidate. A candidate is near
// when it is within two edits of name, or starts with a name of three or
// more characters. It is also near when the words of one, split at '-',
// '_' and '.', contain those of the other in order and the shorter has two
// or more words, as with "sync-to-crm" and "sync-to-external-crm". The
// candidate with the minimum number of edits wins, then the first in byte
// order.
func closestName(name string, candidates []string) string {
	lower := strings.ToLower(name)
	words := nameWords(lower)
	best, bestDistance := "", 3
	for _, c := range candidates {
		if c == name {
			return ""
		}
		lc := strings.ToLower(c)
		d := editDistance(lower, lc)
		if len(lower) >= 3 && strings.HasPrefix(lc, lower) {
			d = min(d, 1)
		}
		candidateWords := nameWords(lc)
		if containsWords(candidateWords, words) || containsWords(words, candidateWords) {
			d = min(d, 2)
		}
		if d < bestDistance || (d == bestDistance && c < best) {
			best, bestDistance = c, d
		}
	}
	return best
}

// nameWords splits a name at '-', '_' and '.'.
func nameWords(name string) []string {
	return strings.FieldsFunc(name, func(r rune) bool { return r == '-' || r == '_' || r == '.' })
}

// containsWords reports whether sub, of two or more words, appears in
// words in the same order, possibly with other words between them.
func containsWords(words, sub []string) bool {
	if len(sub) < 2 {
		return false
	}
	i := 0
	for _, w := range words {
		if i < len(sub) && w == sub[i] {
			i++
		}
	}
	return i == len(sub)
}

// editDistance returns the Levenshtein distance between a and b, counted
// in bytes, which is enough for the ASCII names of flags, vaults, secrets
// and executors.
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
