package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/execvault/execvault/triggers"
	"github.com/execvault/execvault/webhook"
)

// recordingDeliverer keeps every job it is given, in memory.
type recordingDeliverer struct {
	mu   sync.Mutex
	jobs []webhook.Job
}

func (d *recordingDeliverer) Enqueue(_ context.Context, job webhook.Job) (webhook.Job, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	job.Status = webhook.StatusPending
	d.jobs = append(d.jobs, job)
	return job, nil
}

func (d *recordingDeliverer) Wait(_ context.Context, id string) (webhook.Job, error) {
	return webhook.Job{ID: id, Status: webhook.StatusSuccess}, nil
}

func orderCreated(id string) *triggers.RecordEvent {
	return &triggers.RecordEvent{
		ID: id, EventType: triggers.EventTypeCreated, WorkspaceID: "ws", NamespaceName: "app",
		TypeName: "order", NewRecord: []byte(`{"id":"` + id + `"}`),
	}
}

// TestHotReloadLosesAndDoublesNothing swaps the plugin file for new bytes
// several times while events flow, and checks that every event fired its
// executor exactly once.
func TestHotReloadLosesAndDoublesNothing(t *testing.T) {
	dir := copyPlugins(t, "echo.wasm")
	rt := newTestRuntime(t, testConfig(dir))
	original, err := os.ReadFile(filepath.Join(dir, "echo.wasm"))
	if err != nil {
		t.Fatal(err)
	}

	d := &recordingDeliverer{}
	var sent atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			ev := orderCreated("evt-" + strconv.Itoa(i))
			firings := rt.HandleRecordEvent(context.Background(), d, ev, DispatchOptions{})
			sent.Add(1)
			// test-echo fires on created; test-echo-skip has a condition
			// that always returns false.
			if len(firings) != 2 {
				t.Errorf("event %s: %d firings, want 2", ev.ID, len(firings))
			}
			for _, f := range firings {
				if f.State == FiringFailed {
					t.Errorf("event %s, executor %s: %v", ev.ID, f.Executor, f.Err)
				}
			}
		}
	}()

	for v := 1; v <= 5; v++ {
		// A custom section makes a new file with the same behaviour.
		changed := appendCustomSection(append([]byte(nil), original...), "version", []byte(strconv.Itoa(v)))
		if err := os.WriteFile(filepath.Join(dir, "echo.wasm"), changed, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := rt.Reload(context.Background()); err != nil {
			t.Fatalf("reload %d: %v", v, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	<-done

	counts := map[string]int{}
	d.mu.Lock()
	for _, j := range d.jobs {
		counts[j.EventID]++
	}
	d.mu.Unlock()
	if int64(len(counts)) != sent.Load() {
		t.Errorf("events with a job = %d, want %d (every event sent)", len(counts), sent.Load())
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("event %s made %d jobs, want 1", id, n)
		}
	}
	if sent.Load() < 10 {
		t.Errorf("only %d events flowed during the reloads; the test proves little", sent.Load())
	}
}

// appendCustomSection appends a Wasm custom section with the given name.
func appendCustomSection(module []byte, name string, payload []byte) []byte {
	body := appendULEB(nil, uint32(len(name)))
	body = append(body, name...)
	body = append(body, payload...)
	module = append(module, 0)
	module = appendULEB(module, uint32(len(body)))
	return append(module, body...)
}

func appendULEB(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

var (
	goExampleOnce sync.Once
	goExampleDir  string
	goExampleErr  error
)

// goExamplePlugins builds the Go example executors once per test process
// and returns the directory that holds them.
func goExamplePlugins(t testing.TB) string {
	t.Helper()
	goExampleOnce.Do(func() {
		goExampleDir, goExampleErr = os.MkdirTemp("", "execvault-go-examples-")
		if goExampleErr != nil {
			return
		}
		for _, name := range []string{"sync-to-external-crm"} {
			cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(goExampleDir, name+".wasm"), "../plugins/examples/"+name)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				goExampleErr = fmt.Errorf("build %s: %v\n%s", name, err, out)
				return
			}
		}
	})
	if goExampleErr != nil {
		t.Fatal(goExampleErr)
	}
	return goExampleDir
}

// TestGoGuestConcurrentFirings sends 1000 events over 8 goroutines through
// one Go-guest plugin and checks each outcome against the condition.
func TestGoGuestConcurrentFirings(t *testing.T) {
	cfg := testConfig(goExamplePlugins(t))
	cfg.Limits.Timeout = 10 * time.Second
	cfg.Limits.MemoryPages = 1024
	rt := newTestRuntime(t, cfg)
	exec, err := rt.Executor("sync-to-external-crm")
	if err != nil {
		t.Fatal(err)
	}

	const goroutines, perGoroutine = 8, 125
	var wg sync.WaitGroup
	errs := make(chan string, goroutines*perGoroutine)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < perGoroutine; i++ {
				price := 99990 + (g*perGoroutine+i)%21 // around the 100000 boundary
				id := fmt.Sprintf("so-%d-%d", g, i)
				ev := &triggers.RecordEvent{EventType: triggers.EventTypeCreated, TypeName: "salesOrder",
					NewRecord: []byte(fmt.Sprintf(`{"id":%q,"customerID":"c","totalPrice":%d,"status":"new","createdAt":"2026-01-01T00:00:00Z"}`, id, price))}
				args := triggers.AppendRecordArgs(nil, ev, nil)
				out, err := rt.Fire(context.Background(), exec, args)
				if err != nil {
					errs <- err.Error()
					continue
				}
				if want := price > 100000; out.Fired != want {
					errs <- fmt.Sprintf("%s with totalPrice %d: fired %v, want %v", id, price, out.Fired, want)
					continue
				}
				if out.Fired && !strings.Contains(string(out.Body), `"orderId":"`+id+`"`) {
					errs <- fmt.Sprintf("%s: body %s does not carry its own orderId", id, out.Body)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
