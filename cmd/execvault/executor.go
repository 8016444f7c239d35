package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/execvault/execvault/plugins"
	"github.com/execvault/execvault/runtime"
	"github.com/spf13/cobra"
)

func init() { commandAdders = append(commandAdders, addExecutorCommands) }

func addExecutorCommands(a *app, root *cobra.Command) {
	executor := &cobra.Command{Use: "executor", Short: "Inspect loaded executors"}

	var f runtimeFlags
	var asJSON bool
	list := &cobra.Command{
		Use:   "list [--plugins DIR] [--json]",
		Short: "List every executor of a plugin directory, or of the running execvault",
		Long: `List every executor of the plugin directory with its trigger, operation,
secrets, plugin file, ABI version and limits. Loading checks each plugin, so
an invalid plugin fails the command with the file and the reason.

Without --plugins, list what execvault run serving the data directory has
loaded, through its admin socket.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.listExecutors(cmd.Context(), &f, asJSON)
		},
	}
	f.register(list, "warn")
	list.Flags().BoolVarP(&asJSON, "json", "j", false, "print JSON")
	executor.AddCommand(list)
	root.AddCommand(executor)
}

// executorInfo is the listing form of a loaded executor.
type executorInfo struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Disabled    bool            `json:"disabled"`
	Trigger     plugins.Trigger `json:"trigger"`
	// HookPath is the path at which execvault run serves an incoming
	// webhook trigger, as runtime.HookPath returns it.
	HookPath   string              `json:"hookPath,omitempty"`
	Operation  plugins.Operation   `json:"operation"`
	Secrets    []plugins.SecretRef `json:"secrets"`
	File       string              `json:"file"`
	ABIVersion int                 `json:"abiVersion"`
	Limits     limitsInfo          `json:"limits"`
}

type limitsInfo struct {
	TimeoutMillis  int64  `json:"timeoutMs"`
	MemoryPages    uint32 `json:"memoryPages"`
	MaxOutputBytes int    `json:"maxOutputBytes"`
}

func (a *app) listExecutors(ctx context.Context, f *runtimeFlags, asJSON bool) error {
	var infos []executorInfo
	socket := filepath.Join(a.dataDir, "admin.sock")
	switch {
	case f.pluginDir == "" && adminSocketLive(socket):
		// Without --plugins, list what the running execvault has loaded.
		var err error
		if infos, err = fetchExecutors(ctx, socket); err != nil {
			return err
		}
	case f.pluginDir == "":
		return &usageError{fmt.Errorf("missing --plugins DIR: name the directory of plugin .wasm files (no execvault run serves %s)", a.dataDir)}
	default:
		log, err := f.logger(a)
		if err != nil {
			return err
		}
		cfg := runtime.DefaultConfig()
		cfg.PluginDir = f.pluginDir
		cfg.CacheDir = a.cacheDir()
		cfg.Logger = log
		cfg.PoolSize = 1
		rt, err := runtime.New(ctx, cfg)
		if err != nil {
			return err
		}
		defer rt.Close(ctx)
		infos = executorInfos(rt)
	}

	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}

	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTRIGGER\tOPERATION\tSECRETS\tFILE\tABI\tLIMITS")
	for _, e := range infos {
		refs := make([]string, len(e.Secrets))
		for i, r := range e.Secrets {
			refs[i] = r.String()
		}
		name := e.Name
		if e.Disabled {
			name += " (disabled)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%dms %dp %dB\n", name, triggerText(e), operationText(e.Operation),
			strings.Join(refs, ","), filepath.Base(e.File), e.ABIVersion, e.Limits.TimeoutMillis, e.Limits.MemoryPages, e.Limits.MaxOutputBytes)
	}
	return tw.Flush()
}

// executorInfos returns the listing form of every executor rt has loaded.
func executorInfos(rt *runtime.Runtime) []executorInfo {
	infos := []executorInfo{}
	for _, e := range rt.Executors() {
		infos = append(infos, executorInfo{
			Name: e.Name, Description: e.Description, Disabled: e.Disabled,
			Trigger: e.Trigger, HookPath: runtime.HookPath(e.Name, e.Trigger), Operation: e.Operation, Secrets: secretRefs(e),
			File: e.File, ABIVersion: e.ABIVersion,
			Limits: limitsInfo{e.Limits.Timeout.Milliseconds(), e.Limits.MemoryPages, e.Limits.MaxOutputBytes},
		})
	}
	return infos
}

// fetchExecutors reads the executor listing of a running execvault over
// its admin socket.
func fetchExecutors(ctx context.Context, socket string) ([]executorInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://execvault/v1/executors", nil)
	if err != nil {
		return nil, err
	}
	resp, err := newJobsClient(socket).http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("admin socket: list executors: HTTP %d", resp.StatusCode)
	}
	var infos []executorInfo
	if err := json.NewDecoder(resp.Body).Decode(&infos); err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return infos, nil
}

// secretRefs lists every secret an executor references or declares.
func secretRefs(e *runtime.Executor) []plugins.SecretRef {
	seen := map[plugins.SecretRef]bool{}
	var out []plugins.SecretRef
	add := func(r plugins.SecretRef) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for _, h := range e.Operation.Headers {
		if h.Secret != nil {
			add(*h.Secret)
		}
	}
	for _, r := range e.Executor.Secrets {
		add(r)
	}
	if e.Signing != nil {
		add(e.Signing.Secret)
	}
	if e.Trigger.Token != nil {
		add(*e.Trigger.Token)
	}
	if out == nil {
		out = []plugins.SecretRef{}
	}
	return out
}

func triggerText(e executorInfo) string {
	t := e.Trigger
	switch t.Kind {
	case plugins.TriggerRecord:
		s := "record " + t.TypeName + " " + strings.Join(t.Events, "|")
		if t.Condition {
			s += " if condition"
		}
		return s
	case plugins.TriggerSchedule:
		tz := t.Timezone
		if tz == "" {
			tz = "UTC"
		}
		return fmt.Sprintf("schedule %q %s", t.Cron, tz)
	case plugins.TriggerIncomingWebhook:
		s := t.Kind + " " + e.HookPath + " (no token: loopback only)"
		if t.Token != nil {
			s = t.Kind + " " + e.HookPath + " (token " + t.Token.String() + ")"
		}
		if t.Condition {
			s += " if condition"
		}
		return s
	default:
		return t.Kind
	}
}

func operationText(o plugins.Operation) string {
	if o.DynamicURL {
		return o.Kind + " (computed URL)"
	}
	return o.Kind + " " + o.URL
}
