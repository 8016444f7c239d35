// Command execvault-demo runs execvault's main job end to end on the sample
// events in testdata, with no setup. It creates a throw-away data directory
// and master key and stores the secrets of the two example executors with
// the execvault CLI. Then it starts a webhook receiver on loopback, replays
// the events and checks what the receiver received. Secret values are
// masked in everything it prints. It exits 1 when the receiver did not get
// what it should.
//
// Usage:
//
//	execvault-demo -execvault bin/execvault -plugins bin/plugins -events testdata/events/orders.jsonl
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// demoSecret is one secret the demo stores. The two CRM values are the ones
// the platform's Secret Manager page uses in its example.
type demoSecret struct {
	name  string
	value string
}

var demoSecrets = []demoSecret{
	{"external-api-token", "Bearer demo-external-token-5f2c9e"},
	{"api-secret", "demo-api-secret-91ab7d"},
	{"crm-api-token", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."},
	{"crm-api-key", "sk_live_abc123xyz789"},
}

const vault = "api-keys"

func main() {
	bin := flag.String("execvault", "bin/execvault", "path of the execvault binary")
	plugins := flag.String("plugins", "bin/plugins", "directory of the Go example plugins")
	tsPlugins := flag.String("ts-plugins", "", "directory of the TypeScript example plugins; replayed too when set")
	events := flag.String("events", "testdata/events/orders.jsonl", "record events to replay")
	flag.Parse()

	dirs := []pluginSet{{"Go executors", *plugins}}
	if *tsPlugins != "" {
		dirs = append(dirs, pluginSet{"TypeScript executors, built from the platform's files unmodified", *tsPlugins})
	}
	// Ctrl-C stops the demo through ctx rather than killing it, so that
	// the throw-away directory is still removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *bin, dirs, *events, os.Stdout)
	stop()
	switch {
	case err == nil:
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "demo interrupted; its throw-away directory was removed")
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

// pluginSet is one plugin directory the demo replays the events through.
type pluginSet struct {
	title string
	dir   string
}

func run(ctx context.Context, bin string, sets []pluginSet, events string, out io.Writer) error {
	work, err := os.MkdirTemp("", "execvault-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	cli := &cli{ctx: ctx, bin: bin, dataDir: filepath.Join(work, "data"), keyFile: filepath.Join(work, "master.key"), out: out}
	fmt.Fprintf(out, "== throw-away data directory %s\n", cli.dataDir)

	fmt.Fprintf(out, "\n== create vault %q and its secrets (values read from stdin)\n", vault)
	if err := cli.run(nil, "secret", "vault", "create", "--name", vault); err != nil {
		return err
	}
	for _, s := range demoSecrets {
		err := cli.run(strings.NewReader(s.value), "secret", "create", "--vault-name", vault, "--name", s.name, "--value-stdin")
		if err != nil {
			return err
		}
	}
	if err := cli.run(nil, "secret", "list", "--vault-name", vault); err != nil {
		return err
	}

	for _, set := range sets {
		if err := replayAndCheck(cli, set, events, out); err != nil {
			return fmt.Errorf("%s: %w", set.title, err)
		}
	}
	fmt.Fprintln(out, "\n== demo passed: every expected webhook arrived with its secret headers and body")
	return nil
}

// replayAndCheck replays events through one plugin directory against a
// fresh receiver and checks what arrived.
func replayAndCheck(cli *cli, set pluginSet, events string, out io.Writer) error {
	recv, err := startReceiver()
	if err != nil {
		return err
	}
	defer recv.close()
	fmt.Fprintf(out, "\n== %s: replay %s, receiver on %s\n", set.title, events, recv.url)
	err = cli.run(nil, "replay", "--plugins", set.dir,
		"--url-override", "https://api.example.com="+recv.url+"/notify",
		"--url-override", "https://crm.example.com="+recv.url+"/crm",
		events)
	if err != nil {
		return err
	}

	got := recv.requests()
	fmt.Fprintf(out, "\n== %s: the receiver got %d requests\n", set.title, len(got))
	for _, r := range got {
		printRequest(out, r)
	}
	return check(got)
}

// cli runs the execvault binary against the demo's data directory.
type cli struct {
	// ctx ends the command that runs when it is done.
	ctx                   context.Context
	bin, dataDir, keyFile string
	out                   io.Writer
}

func (c *cli) run(stdin io.Reader, args ...string) error {
	full := append([]string{"--data-dir", c.dataDir, "--key-file", c.keyFile}, args...)
	fmt.Fprintf(c.out, "$ execvault %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(c.ctx, c.bin, full...)
	// An interrupted command gets SIGINT, as from a terminal, and time to
	// print what it did before it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Stdin = stdin
	cmd.Stdout = c.out
	cmd.Stderr = c.out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("execvault %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// request is one webhook the receiver got.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

type receiver struct {
	url    string
	server *http.Server

	mu  sync.Mutex
	got []request
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start receiver: %w", err)
	}
	r := &receiver{url: "http://" + ln.Addr().String()}
	r.server = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		r.mu.Lock()
		r.got = append(r.got, request{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = r.server.Serve(ln) }()
	return r, nil
}

func (r *receiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.server.Shutdown(ctx)
}

// requests returns what arrived, sorted by path and body so that the
// output does not depend on delivery order.
func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]request(nil), r.got...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return bytes.Compare(out[i].Body, out[j].Body) < 0
	})
	return out
}

// maskSecrets replaces every demo secret value in s with its name.
func maskSecrets(s string) string {
	for _, sec := range demoSecrets {
		s = strings.ReplaceAll(s, sec.value, "[secret "+vault+"/"+sec.name+"]")
	}
	return s
}

func printRequest(out io.Writer, r request) {
	fmt.Fprintf(out, "\n%s %s\n", r.Method, r.Path)
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(out, "  %s: %s\n", name, maskSecrets(strings.Join(r.Header.Values(name), ", ")))
	}
	fmt.Fprintf(out, "  body: %s\n", maskSecrets(string(r.Body)))
}

// expected is a webhook the sample events must produce.
type expected struct {
	path    string
	headers map[string]string // header name -> secret name
	body    map[string]any
}

var wantRequests = []expected{
	{"/crm/api/v1/orders", map[string]string{"Authorization": "crm-api-token", "X-Api-Key": "crm-api-key"},
		map[string]any{"orderId": "so-1002", "customerId": "cust-42", "totalPrice": 100001.0, "status": "confirmed", "createdAt": "2026-11-30T09:15:30Z"}},
	{"/crm/api/v1/orders", map[string]string{"Authorization": "crm-api-token", "X-Api-Key": "crm-api-key"},
		map[string]any{"orderId": "so-1004", "customerId": "cust-99", "totalPrice": 987654.25, "status": "confirmed", "createdAt": "2026-11-30T10:02:11Z"}},
	{"/notify/orders", map[string]string{"Authorization": "external-api-token", "X-Api-Key": "api-secret"},
		map[string]any{"orderId": "ord-501", "amount": 129.5}},
	{"/notify/orders", map[string]string{"Authorization": "external-api-token", "X-Api-Key": "api-secret"},
		map[string]any{"orderId": "ord-502", "amount": 12.0}},
}

func secretValue(name string) string {
	for _, s := range demoSecrets {
		if s.name == name {
			return s.value
		}
	}
	return ""
}

// check compares what arrived with wantRequests, without ever printing a
// secret value.
func check(got []request) error {
	var problems []string
	used := make([]bool, len(got))
	for _, want := range wantRequests {
		found := false
		for i, r := range got {
			if used[i] || r.Path != want.path || r.Method != http.MethodPost {
				continue
			}
			var body map[string]any
			if json.Unmarshal(r.Body, &body) != nil || !sameJSON(body, want.body) {
				continue
			}
			used[i], found = true, true
			for header, secret := range want.headers {
				if r.Header.Get(header) != secretValue(secret) {
					problems = append(problems, fmt.Sprintf("%s %v: header %s does not hold secret %s/%s", want.path, want.body["orderId"], header, vault, secret))
				}
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				problems = append(problems, fmt.Sprintf("%s %v: Content-Type is %q, want application/json", want.path, want.body["orderId"], ct))
			}
		}
		if !found {
			problems = append(problems, fmt.Sprintf("missing POST %s with body %v", want.path, maskSecrets(fmt.Sprint(want.body))))
		}
	}
	for i, r := range got {
		if !used[i] {
			problems = append(problems, fmt.Sprintf("unexpected %s %s with body %s", r.Method, r.Path, maskSecrets(string(r.Body))))
		}
	}
	if len(problems) > 0 {
		return errors.New("the receiver did not get what it should:\n  " + strings.Join(problems, "\n  "))
	}
	return nil
}

func sameJSON(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
