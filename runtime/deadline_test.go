package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	wabin "github.com/tetratelabs/wabin/wasm"
)

// openTestRuntime starts a runtime with New on a fresh directory holding
// the given plugin files.
func openTestRuntime(tb testing.TB, timeout time.Duration, plugins map[string][]byte) *Runtime {
	tb.Helper()
	dir := tb.TempDir()
	for name, wasm := range plugins {
		if err := os.WriteFile(filepath.Join(dir, name), wasm, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	cfg := benchConfig(dir)
	cfg.Limits.Timeout = timeout
	rt, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

// readTestGuest reads a committed guest module, relative to the repository
// root.
func readTestGuest(tb testing.TB, path ...string) []byte {
	tb.Helper()
	wasm, err := os.ReadFile(filepath.Join(append([]string{".."}, path...)...))
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

func TestDeadlineChecksStopRunawayGuests(t *testing.T) {
	const timeout = 50 * time.Millisecond
	rt := openTestRuntime(t, timeout, map[string][]byte{
		"echo.wasm":           readTestGuest(t, "testdata", "plugins", "echo.wasm"),
		"loop.wasm":           readTestGuest(t, "testdata", "plugins", "loop.wasm"),
		"recursion.wasm":      readTestGuest(t, "testdata", "bench", "recursion.wasm"),
		"loop-recursion.wasm": readTestGuest(t, "testdata", "bench", "loop-recursion.wasm"),
	})
	echo, err := rt.Executor("test-echo")
	if err != nil {
		t.Fatal(err)
	}
	args := []byte(`{"typeName":"order","newRecord":{"id":"o-1"},"env":{"url":"http://127.0.0.1:9/echo"},"event":"created"}`)

	tests := []struct {
		name     string
		executor string
	}{
		{"endless loop", "test-loop"},
		{"exponential recursion", "test-recursion"},
		{"exponential recursion through a loop header", "test-loop-recursion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exec, err := rt.Executor(tt.executor)
			if err != nil {
				t.Fatal(err)
			}
			for round := range 3 {
				start := time.Now()
				_, err := rt.Fire(context.Background(), exec, args)
				elapsed := time.Since(start)

				var limit *LimitError
				if !errors.As(err, &limit) || limit.Limit != "timeout" {
					t.Fatalf("round %d: error %v; want a timeout LimitError", round, err)
				}
				// The bound leaves room for a slow, shared CI machine; what
				// matters is that the call returns at all.
				if elapsed > timeout+2*time.Second {
					t.Errorf("round %d: stopped after %s; want about %s", round, elapsed, timeout)
				}

				out, err := rt.Fire(context.Background(), echo, args)
				if err != nil || string(out.Body) != string(args) {
					t.Fatalf("round %d: next firing = body %s, error %v; want body %s", round, out.Body, err, args)
				}
			}
		})
	}
}

func TestDeadlineChecksHonourCallerContext(t *testing.T) {
	// The executor's own timeout is far away, so only the caller's
	// context can stop the guest in time.
	rt := openTestRuntime(t, time.Hour, map[string][]byte{
		"loop.wasm": readTestGuest(t, "testdata", "plugins", "loop.wasm"),
	})
	exec, err := rt.Executor("test-loop")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want func(error) bool
	}{
		{
			name: "caller deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 50*time.Millisecond)
			},
			want: func(err error) bool {
				var limit *LimitError
				return errors.As(err, &limit) && limit.Limit == "timeout"
			},
		},
		{
			name: "caller cancel",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(50*time.Millisecond, cancel)
				return ctx, cancel
			},
			want: func(err error) bool { return errors.Is(err, context.Canceled) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()

			done := make(chan error, 1)
			go func() {
				_, err := rt.Fire(ctx, exec, []byte(`{}`))
				done <- err
			}()
			select {
			case err := <-done:
				if !tt.want(err) {
					t.Errorf("error %v; want the %s reported", err, tt.name)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the guest still runs 10 s after the caller's context ended")
			}
		})
	}
}

func TestDeadlineChecksLetGarbageCollectionRun(t *testing.T) {
	// With one processor, as a container limited to one CPU has, the
	// collector and the guest take turns on it.
	for _, procs := range []int{1, goruntime.GOMAXPROCS(0)} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(procs))
			checkGarbageCollectionDuringGuest(t)
		})
	}
}

// checkGarbageCollectionDuringGuest runs collections while a guest spins.
// A guest that never returns to Go would block each stop-the-world phase
// of the garbage collector until its deadline, or forever without one.
// deadline_check is the guest's way back into Go. The deadline is far
// away, so a collection that completes while the guest still runs did not
// wait for it.
func checkGarbageCollectionDuringGuest(t *testing.T) {
	rt := openTestRuntime(t, time.Hour, map[string][]byte{
		"loop.wasm": readTestGuest(t, "testdata", "plugins", "loop.wasm"),
	})
	exec, err := rt.Executor("test-loop")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probe := &checkProbe{Context: ctx, spinning: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := rt.Fire(probe, exec, []byte(`{}`))
		done <- err
	}()
	select {
	case <-probe.spinning:
	case err := <-done:
		t.Fatalf("the guest returned %v before it spun", err)
	case <-time.After(time.Minute):
		t.Fatal("the guest made no deadline checks within a minute")
	}

	for range 3 {
		goruntime.GC()
	}
	select {
	case err := <-done:
		t.Fatalf("the guest returned %v during the collections; want it still spinning", err)
	default:
	}
	cancel()
	err = <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error after cancel = %v, want context.Canceled", err)
	}
}

// checkProbe is a context that closes spinning once the guest's deadline
// checks have asked for its error many times, which only a guest running
// its loop does.
type checkProbe struct {
	context.Context
	calls    atomic.Int64
	spinning chan struct{}
}

func (p *checkProbe) Err() error {
	if p.calls.Add(1) == 1000 {
		close(p.spinning)
	}
	return p.Context.Err()
}

func TestInstrumentDeadlineChecksRejects(t *testing.T) {
	tests := []struct {
		name string
		wasm []byte
		want error
	}{
		{
			// (module (func (result v128) v128.const i64x2 0 0))
			name: "SIMD",
			wasm: []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00\x01\x7b\x03\x02\x01\x00\x0a\x16\x01\x14\x00\xfd\x0c" +
				"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0b"),
			want: errSIMD,
		},
		{
			// (module (import "execvault" "deadline_check" (func)))
			name: "own deadline_check import",
			wasm: []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x02\x1c\x01\x09execvault\x0edeadline_check\x00\x00"),
			want: errReservedImport,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := instrumentDeadlineChecks(tt.wasm)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v; want %v", err, tt.want)
			}
		})
	}
}

func TestInstrumentDeadlineChecksShiftsCalls(t *testing.T) {
	// recursion.wasm's exports and its call to $tree must still resolve
	// after the added import shifts the function indexes.
	rt := openTestRuntime(t, time.Second, map[string][]byte{
		"recursion.wasm": readTestGuest(t, "testdata", "bench", "recursion.wasm"),
	})
	exec, err := rt.Executor("test-recursion")
	if err != nil {
		t.Fatalf("manifest after instrumenting: %v", err)
	}
	if exec.Operation.URL != "http://127.0.0.1:9/unused" {
		t.Errorf("url %q; want %q", exec.Operation.URL, "http://127.0.0.1:9/unused")
	}
}

func TestEntryCovered(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want bool
	}{
		{"loop first", []byte{wabin.OpcodeLoop, 0x40, wabin.OpcodeEnd, wabin.OpcodeEnd}, true},
		{"plain instructions, then a loop", []byte{wabin.OpcodeGlobalGet, 0, wabin.OpcodeLocalSet, 1,
			wabin.OpcodeBlock, 0x40, wabin.OpcodeLoop, 0x40, wabin.OpcodeEnd, wabin.OpcodeEnd, wabin.OpcodeEnd}, true},
		{"call before the loop", []byte{wabin.OpcodeCall, 0, wabin.OpcodeLoop, 0x40, wabin.OpcodeEnd, wabin.OpcodeEnd}, false},
		{"branch before the loop", []byte{wabin.OpcodeBlock, 0x40, wabin.OpcodeBr, 0, wabin.OpcodeEnd,
			wabin.OpcodeLoop, 0x40, wabin.OpcodeEnd, wabin.OpcodeEnd}, false},
		{"if before the loop", []byte{wabin.OpcodeI32Const, 1, wabin.OpcodeIf, 0x40, wabin.OpcodeLoop, 0x40,
			wabin.OpcodeEnd, wabin.OpcodeEnd, wabin.OpcodeEnd}, false},
		{"no loop", []byte{wabin.OpcodeI32Const, 1, wabin.OpcodeDrop, wabin.OpcodeEnd}, false},
		{"undecodable instruction", []byte{0xFF, wabin.OpcodeLoop, 0x40, wabin.OpcodeEnd, wabin.OpcodeEnd}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := entryCovered(tt.body); got != tt.want {
				t.Errorf("entryCovered(% x) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}

func FuzzInstrumentBody(f *testing.F) {
	f.Add([]byte{wabin.OpcodeEnd})
	f.Add([]byte{wabin.OpcodeLoop, 0x40, wabin.OpcodeBr, 0, wabin.OpcodeEnd, wabin.OpcodeEnd})
	f.Add([]byte{wabin.OpcodeCall, 0x80, 0x01, wabin.OpcodeF64Const, 0, 0, 0, 0, 0, 0, 0, 0, wabin.OpcodeEnd})
	f.Add([]byte{wabin.OpcodeBrTable, 2, 0, 1, 2, 0xFC, 10, 0, 0, wabin.OpcodeEnd})
	f.Add([]byte{wabin.OpcodeCall, 0x80, 0x80, 0x00})
	check := deadlineCheckCode(7, 3)
	shift := func(index uint32) uint32 { return index + 1 }

	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := instrumentBody(body, check, shift)
		if err != nil {
			return
		}
		// The output may be shorter than the body plus a check, because a
		// function index in a longer LEB128 form than needed is written
		// back in its shortest form.
		if covered := entryCovered(body); !covered && !bytes.HasPrefix(out, check) {
			t.Fatalf("output % x does not start with the check % x", out, check)
		}
		if loop := bytes.IndexByte(out, wabin.OpcodeLoop); entryCovered(body) && !bytes.Contains(out[loop:], check) {
			t.Fatalf("output % x has no check after its first loop, which covers the entry", out)
		}
	})
}

// BenchmarkWatchdogTimer measures the per-call cost of a timer-based
// watchdog, the alternative to deadline_check reading the clock: a new
// time.AfterFunc per call, or one timer per instance that each call resets
// and stops.
func BenchmarkWatchdogTimer(b *testing.B) {
	var fired atomic.Int32
	interrupt := func() { fired.Add(1) }

	b.Run("after-func", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			t := time.AfterFunc(benchTimeout, interrupt)
			t.Stop()
		}
	})

	b.Run("reset", func(b *testing.B) {
		t := time.AfterFunc(benchTimeout, interrupt)
		t.Stop()
		b.ReportAllocs()
		for b.Loop() {
			t.Reset(benchTimeout)
			t.Stop()
		}
	})

	if n := fired.Load(); n != 0 {
		b.Errorf("watchdog fired %d times within %s; want 0", n, benchTimeout)
	}
}
