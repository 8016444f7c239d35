package main

import (
	"strings"
	"testing"
)

func TestUnknownFlagSuggestion(t *testing.T) {
	c := newSecretCLI(t)
	tests := []struct {
		name string
		args []string
		want string // the suggestion, or "" for none
	}{
		{"one letter missing", []string{"secret", "list", "--vault-nam", "v"}, "(did you mean --vault-name?)"},
		{"letters swapped", []string{"secret", "create", "-V", "v", "-n", "k", "--vaule-stdin"}, "(did you mean --value-stdin?)"},
		{"inherited flag by prefix", []string{"secret", "vault", "list", "--dat", "x"}, "(did you mean --data-dir?)"},
		{"nothing near", []string{"secret", "vault", "list", "--zzzzzz"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := c.run("", tt.args...)
			if code != exitUsage {
				t.Errorf("exit status = %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, "unknown flag: --") {
				t.Errorf("stderr = %q, want it to name the unknown flag", stderr)
			}
			if tt.want == "" && strings.Contains(stderr, "did you mean") {
				t.Errorf("stderr = %q, want no suggestion", stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want suggestion %q", stderr, tt.want)
			}
		})
	}
}

// TestInvalidFlagValue passes values that do not parse as the flag's
// type. The error names the flag, the value and what the flag takes,
// without the parser's text.
func TestInvalidFlagValue(t *testing.T) {
	// The canary has no character that quoting would escape.
	const canary = "switch-canary-81f3c2"
	c := newSecretCLI(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"secret", "audit", "--limit", "x"}, `invalid --limit "x": use a whole number`},
		{[]string{"secret", "rollback", "-V", "v", "-n", "k", "--to", "-3"}, `invalid --to "-3": use a whole number, 0 or more`},
		{[]string{"replay", "--plugins", "p", "--backoff", "5", "f"}, `invalid --backoff "5": use a number with a unit, such as 500ms, 10s or 2m`},
		{[]string{"secret", "audit", "--limit", "99999999999999999999"}, `invalid --limit "99999999999999999999": out of range; use a number nearer zero`},
		{[]string{"executor", "jobs", "x", "--attempts=maybe"}, `invalid --attempts=VALUE (value not shown): --attempts takes no value`},
		{[]string{"secret", "create", "-V", "v", "-n", "k", "--value-stdin=" + canary}, "--value-stdin takes no value; pass --value-stdin alone"},
	}
	for _, tt := range tests {
		code, _, stderr := c.run("", tt.args...)
		if code != exitUsage {
			t.Errorf("%q: exit status = %d, want %d", tt.args, code, exitUsage)
		}
		if !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: stderr = %q, want it to contain %q", tt.args, stderr, tt.want)
		}
		if strings.Contains(stderr, "strconv") || strings.Contains(stderr, "time:") {
			t.Errorf("%q: stderr = %q shows the parser's error", tt.args, stderr)
		}
		if strings.Contains(stderr, canary) {
			t.Errorf("%q: stderr shows the value given to a switch, which may be a secret", tt.args)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"vault-nam", "vault-name", 1},
		{"vaule", "value", 2},
		{"dry-run", "dry-run", 0},
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestUnknownSubcommand checks that a misspelt subcommand of a command
// group is an error, as it is at the top level, instead of the group's
// help with exit status 0, which a script would take for success.
func TestUnknownSubcommand(t *testing.T) {
	c := newSecretCLI(t)
	tests := []struct {
		name string
		args []string
		want string // the suggestion, or "" for none
	}{
		{"secret key", []string{"secret", "key", "rotat"}, "rotate"},
		{"secret", []string{"secret", "lsit"}, "list"},
		{"secret vault", []string{"secret", "vault", "lsit"}, "list"},
		{"executor", []string{"executor", "lsit"}, "list"},
		{"plugin", []string{"plugin", "biuld"}, "build"},
		{"nothing near", []string{"secret", "key", "zzzzzz"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := c.run("", tt.args...)
			if code != exitUsage {
				t.Errorf("exit status = %d, want %d", code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			want := `unknown command "` + tt.args[len(tt.args)-1] + `" for "execvault ` + strings.Join(tt.args[:len(tt.args)-1], " ") + `"`
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, want)
			}
			if tt.want == "" && strings.Contains(stderr, "Did you mean") {
				t.Errorf("stderr = %q, want no suggestion", stderr)
			}
			if tt.want != "" && !strings.Contains(stderr, "Did you mean this?\n\t"+tt.want+"\n") {
				t.Errorf("stderr = %q, want suggestion %q", stderr, tt.want)
			}
		})
	}

	// A group without arguments still shows its help.
	code, stdout, _ := c.run("", "secret", "key")
	if code != exitOK || !strings.Contains(stdout, "Available Commands:") {
		t.Errorf("secret key: exit status %d, stdout %q; want 0 and the group's help", code, stdout)
	}
}

func TestClosestName(t *testing.T) {
	names := []string{"api-keys", "database", "sync-to-external-crm", "notify-external-service", "nightly-report"}
	tests := []struct {
		name string
		want string
	}{
		{"api-key", "api-keys"},
		{"API-KEYS", "api-keys"},
		{"datab", "database"},
		{"sync-to-crm", "sync-to-external-crm"},
		{"sync-to-external-crm-v2", "sync-to-external-crm"},
		{"nightly-reprot", "nightly-report"},
		{"external", ""},
		{"crm-sync", ""},
		{"zzz", ""},
		{"database", ""},
	}
	for _, tt := range tests {
		if got := closestName(tt.name, names); got != tt.want {
			t.Errorf("closestName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestArgCountErrorNamesArguments checks that a wrong number of positional
// arguments is a usage error that shows which arguments the command takes.
func TestArgCountErrorNamesArguments(t *testing.T) {
	env := newCLIEnv(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"executor", "jobs", "cancel", "msg_a", "msg_b"}, "accepts 1 arg(s), received 2; usage: execvault executor jobs cancel JOB_ID"},
		{[]string{"replay", "a.jsonl", "b.jsonl"}, "accepts 1 arg(s), received 2; usage: execvault replay --plugins DIR FILE"},
	} {
		code, _, stderr := env.run("", tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("execvault %s: exit status %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), code, stderr, exitUsage, tt.want)
		}
	}
}
