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

	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/leb128"
	wabin "github.com/tetratelabs/wabin/wasm"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// This file prototypes a cheaper way to keep the termination guarantee
// (a guest that runs past its timeout is stopped, and the runtime goes on)
// than wazero's WithCloseOnContextDone. That option costs one exit from
// machine code to Go at every loop header, plus a goroutine per call that
// watches the context. The exit is also what lets the Go scheduler stop a
// long-running guest for garbage collection: machine code that never
// returns to Go blocks every stop-the-world phase, and with it the whole
// process.
//
// The prototype rewrites each module before it is compiled. It adds a
// mutable i32 global $budget, imports the host function
// execvault.deadline_check, and at the start of every function body and
// every loop body inserts
//
//	global.get $budget
//	i32.eqz
//	if
//	  i32.const checkBudget
//	  global.set $budget
//	  call $deadline_check
//	end
//	global.get $budget
//	i32.const 1
//	i32.sub
//	global.set $budget
//
// which stays in machine code except on every checkBudget-th pass. There
// the host function runs in Go, which gives the scheduler its preemption
// point, and traps the guest with sys.ExitCodeDeadlineExceeded when the
// call's deadline has passed. The module then runs on a runtime without
// WithCloseOnContextDone: no goroutine, timer or context deadline per call.
// Checking function entries as well as loops also stops recursion that
// never loops, such as a call tree of exponential size, which wazero's
// loop-only checks miss.

// deadlineCheckImport is the name of the added import in the execvault
// host module.
const deadlineCheckImport = "deadline_check"

// checkBudget is the number of checks between two calls of the host
// function: it bounds both how late a deadline is noticed and how long a
// guest can hold off a stop-the-world pause, to about 1000 loop iterations
// or function calls.
const checkBudget = 1000

// errUninstrumentable reports a function body that holds an instruction the
// rewriter does not decode.
var errUninstrumentable = errors.New("instruction not supported by the deadline-check rewriter")

// instrumentDeadlineChecks returns the module wasm with the deadline checks
// added. The new import comes after the module's other function imports,
// so every defined function's index grows by one and the rewriter updates
// calls, ref.func, exports, the start function, element segments and the
// name section.
func instrumentDeadlineChecks(wasm []byte) ([]byte, error) {
	m, err := binary.DecodeModule(wasm, wabin.CoreFeaturesV2)
	if err != nil {
		return nil, fmt.Errorf("decode module: %w", err)
	}

	typeIndex := uint32(len(m.TypeSection))
	for i, ft := range m.TypeSection {
		if len(ft.Params) == 0 && len(ft.Results) == 0 {
			typeIndex = uint32(i)
			break
		}
	}
	if typeIndex == uint32(len(m.TypeSection)) {
		m.TypeSection = append(m.TypeSection, &wabin.FunctionType{})
	}

	checkFunc := m.ImportFuncCount()
	m.ImportSection = append(m.ImportSection, &wabin.Import{
		Type: wabin.ExternTypeFunc, Module: hostModuleName, Name: deadlineCheckImport, DescFunc: typeIndex,
	})
	shift := func(index uint32) uint32 {
		if index >= checkFunc {
			return index + 1
		}
		return index
	}
	for _, e := range m.ExportSection {
		if e.Type == wabin.ExternTypeFunc {
			e.Index = shift(e.Index)
		}
	}
	if m.StartSection != nil {
		start := shift(*m.StartSection)
		m.StartSection = &start
	}
	for _, seg := range m.ElementSection {
		for i, index := range seg.Init {
			if index != nil {
				shifted := shift(*index)
				seg.Init[i] = &shifted
			}
		}
	}
	for _, g := range m.GlobalSection {
		if g.Init.Opcode == wabin.OpcodeRefFunc {
			index, _, err := readULEB128(g.Init.Data, 0)
			if err != nil {
				return nil, fmt.Errorf("global initializer: %w", err)
			}
			g.Init.Data = leb128.EncodeUint32(shift(index))
		}
	}
	if ns := m.NameSection; ns != nil {
		for _, n := range ns.FunctionNames {
			n.Index = shift(n.Index)
		}
		for _, n := range ns.LocalNames {
			n.Index = shift(n.Index)
		}
	}

	budget := m.ImportGlobalCount() + uint32(len(m.GlobalSection))
	m.GlobalSection = append(m.GlobalSection, &wabin.Global{
		Type: &wabin.GlobalType{ValType: wabin.ValueTypeI32, Mutable: true},
		Init: &wabin.ConstantExpression{Opcode: wabin.OpcodeI32Const, Data: leb128.EncodeInt32(checkBudget)},
	})

	check := deadlineCheckCode(budget, checkFunc)
	for i, code := range m.CodeSection {
		body, err := instrumentBody(code.Body, check, shift)
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		code.Body = body
	}
	return binary.EncodeModule(m), nil
}

// deadlineCheckCode returns the instructions inserted at each function
// entry and loop header.
func deadlineCheckCode(budget, checkFunc uint32) []byte {
	getBudget := append([]byte{wabin.OpcodeGlobalGet}, leb128.EncodeUint32(budget)...)
	setBudget := append([]byte{wabin.OpcodeGlobalSet}, leb128.EncodeUint32(budget)...)

	var code []byte
	code = append(code, getBudget...)
	code = append(code, wabin.OpcodeI32Eqz, wabin.OpcodeIf, 0x40, wabin.OpcodeI32Const)
	code = append(code, leb128.EncodeInt32(checkBudget)...)
	code = append(code, setBudget...)
	code = append(code, wabin.OpcodeCall)
	code = append(code, leb128.EncodeUint32(checkFunc)...)
	code = append(code, wabin.OpcodeEnd)
	code = append(code, getBudget...)
	code = append(code, wabin.OpcodeI32Const, 1, wabin.OpcodeI32Sub)
	return append(code, setBudget...)
}

// instrumentBody copies the expression body with check inserted at its
// start and after the block type of every loop, and with the function
// index of every call and ref.func passed through shift.
func instrumentBody(body, check []byte, shift func(uint32) uint32) ([]byte, error) {
	out := make([]byte, 0, len(body)+len(check)*8)
	out = append(out, check...)
	for pc := 0; pc < len(body); {
		start := pc
		op := body[pc]
		pc++
		if op == wabin.OpcodeCall || op == wabin.OpcodeRefFunc {
			index, next, err := readULEB128(body, pc)
			if err != nil {
				return nil, fmt.Errorf("opcode %#x at %d: %w", op, start, err)
			}
			out = append(out, op)
			out = append(out, leb128.EncodeUint32(shift(index))...)
			pc = next
			continue
		}

		next, err := skipImmediates(body, pc, op)
		if err != nil {
			return nil, fmt.Errorf("opcode %#x at %d: %w", op, start, err)
		}
		if next > len(body) {
			return nil, fmt.Errorf("opcode %#x at %d: immediates run past the end of the body", op, start)
		}
		out = append(out, body[start:next]...)
		if op == wabin.OpcodeLoop {
			out = append(out, check...)
		}
		pc = next
	}
	return out, nil
}

// skipImmediates returns the offset after the immediates of op, whose
// opcode byte ends at pc. It decodes the instructions of WebAssembly 2.0
// except SIMD, which Go's wasip1 port does not emit. The caller handles
// call and ref.func, whose index it rewrites.
func skipImmediates(body []byte, pc int, op byte) (int, error) {
	switch {
	case op == 0x00, op == 0x01, op == 0x05, op == 0x0B, op == 0x0F, op == 0x1A, op == 0x1B,
		op >= 0x45 && op <= 0xC4, op == 0xD1:
		// No immediates: unreachable, nop, else, end, return, drop,
		// select, the numeric instructions and ref.is_null.
		return pc, nil
	case op == 0x02, op == 0x03, op == 0x04:
		// Block type: the empty type, a value type, or a type index as
		// a signed LEB128 number.
		if pc >= len(body) {
			return 0, errUninstrumentable
		}
		switch body[pc] {
		case 0x40, 0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F:
			return pc + 1, nil
		}
		return skipLEB128(body, pc)
	case op == 0x0C, op == 0x0D, op == 0x10, op >= 0x20 && op <= 0x26, op == 0xD2:
		// One index: br, br_if, call, local and global access,
		// table.get, table.set, ref.func.
		return skipLEB128(body, pc)
	case op == 0x0E:
		// br_table: a vector of labels, then the default label.
		count, pc, err := readULEB128(body, pc)
		for i := uint32(0); err == nil && i <= count; i++ {
			pc, err = skipLEB128(body, pc)
		}
		return pc, err
	case op == 0x11, op >= 0x28 && op <= 0x3E:
		// call_indirect (type, table) and memory access (align, offset).
		pc, err := skipLEB128(body, pc)
		if err != nil {
			return 0, err
		}
		return skipLEB128(body, pc)
	case op == 0x1C:
		// select with a vector of value types.
		count, pc, err := readULEB128(body, pc)
		return pc + int(count), err
	case op == 0x3F, op == 0x40, op == 0xD0:
		// memory.size, memory.grow (memory index), ref.null (type).
		return pc + 1, nil
	case op == 0x41, op == 0x42:
		return skipLEB128(body, pc)
	case op == 0x43:
		return pc + 4, nil
	case op == 0x44:
		return pc + 8, nil
	case op == 0xFC:
		sub, pc, err := readULEB128(body, pc)
		if err != nil {
			return 0, err
		}
		switch {
		case sub <= 7: // saturating truncations
			return pc, nil
		case sub == 8: // memory.init: data index, memory index
			pc, err := skipLEB128(body, pc)
			return pc + 1, err
		case sub == 9, sub == 13, sub >= 15 && sub <= 17: // data.drop, elem.drop, table.grow/size/fill
			return skipLEB128(body, pc)
		case sub == 10: // memory.copy: two memory indexes
			return pc + 2, nil
		case sub == 11: // memory.fill: memory index
			return pc + 1, nil
		case sub == 12, sub == 14: // table.init, table.copy
			pc, err := skipLEB128(body, pc)
			if err != nil {
				return 0, err
			}
			return skipLEB128(body, pc)
		}
	}
	return 0, errUninstrumentable
}

// skipLEB128 returns the offset after the LEB128 number at pc.
func skipLEB128(body []byte, pc int) (int, error) {
	for i := pc; i < len(body) && i < pc+10; i++ {
		if body[i]&0x80 == 0 {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("invalid LEB128 number at %d", pc)
}

// readULEB128 decodes the unsigned LEB128 number at pc and returns it with
// the offset after it.
func readULEB128(body []byte, pc int) (uint32, int, error) {
	var v uint32
	for i, shift := pc, 0; i < len(body) && shift < 35; i, shift = i+1, shift+7 {
		v |= uint32(body[i]&0x7F) << shift
		if body[i]&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("invalid LEB128 number at %d", pc)
}

// monotonicBase anchors the monotonic clock that deadlines are read from.
var monotonicBase = time.Now()

// monotonicNow returns nanoseconds since monotonicBase.
func monotonicNow() int64 { return int64(time.Since(monotonicBase)) }

// deadlineKey carries the monotonicNow value after which a call must stop.
type deadlineKey struct{}

// hostDeadlineCheck implements execvault.deadline_check: it traps the
// guest with sys.ExitCodeDeadlineExceeded once the call's deadline has
// passed, and with the matching exit code once the caller's context is
// canceled or past its own deadline, as WithCloseOnContextDone does.
// wazero returns a *sys.ExitError that a host function panics with as the
// call's error, which classify reports as the timeout limit or as a
// canceled call.
func hostDeadlineCheck(ctx context.Context, _ api.Module, _ []uint64) {
	if deadline, ok := ctx.Value(deadlineKey{}).(int64); ok && monotonicNow() > deadline {
		panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
	}
	switch err := ctx.Err(); {
	case errors.Is(err, context.DeadlineExceeded):
		panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
	case err != nil:
		panic(sys.NewExitError(sys.ExitCodeContextCanceled))
	}
}

// newDeadlineCheckRuntime builds a runtime as newRuntimeWithWazeroConfig
// does, without WithCloseOnContextDone, and with the execvault host
// module extended by deadline_check.
//
// NOTE: the host module here repeats instantiateHostModule's functions,
// because the prototype cannot add one to it from a test file.
func newDeadlineCheckRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rt := &Runtime{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "runtime"),
		guestLog: cfg.Logger.With("component", "guest"),
		wasm: wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
			WithCloseOnContextDone(false).WithCompilationCache(benchCompilationCache())),
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt.wasm); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	_, err := rt.wasm.NewHostModuleBuilder(hostModuleName).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(rt.hostLog), []api.ValueType{i32, i32, i32}, nil).Export("log").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(rt.hostSecretGet), []api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}).Export("secret_get").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(rt.hostClockNow), nil, []api.ValueType{i64}).Export("clock_now").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostDeadlineCheck), nil, nil).Export(deadlineCheckImport).
		Instantiate(ctx)
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiate host module: %w", err)
	}
	if err := rt.reload(ctx, true); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return rt, nil
}

// fireWithDeadlineChecks is Runtime.Fire for a runtime built by
// newDeadlineCheckRuntime: the deadline travels as a context value that
// deadline_check reads, instead of a context deadline that wazero watches.
func (rt *Runtime) fireWithDeadlineChecks(ctx context.Context, exec *Executor, args []byte) (Outcome, error) {
	if rt.closed.Load() {
		return Outcome{}, ErrClosed
	}
	p := exec.plugin
	in, err := p.pool.get(ctx)
	if err != nil {
		return Outcome{}, fmt.Errorf("executor %q: get instance: %w", exec.Name, err)
	}

	deadline := monotonicNow() + int64(exec.Limits.Timeout)
	cctx := context.WithValue(context.WithValue(ctx, callKey{}, exec), deadlineKey{}, deadline)
	out, err := in.run(cctx, exec, args)

	switch {
	case err == nil, errors.Is(err, errGuestReported):
		p.pool.put(in)
	default:
		p.pool.discard(in)
	}
	if errors.Is(err, errGuestReported) {
		var ge *GuestError
		errors.As(err, &ge)
		return Outcome{}, ge
	}
	return out, err
}

// openDeadlineCheckRuntime starts a prototype runtime on the instrumented
// forms of the given plugin files.
func openDeadlineCheckRuntime(tb testing.TB, timeout time.Duration, plugins map[string][]byte) *Runtime {
	tb.Helper()
	dir := tb.TempDir()
	for name, wasm := range plugins {
		instrumented, err := instrumentDeadlineChecks(wasm)
		if err != nil {
			tb.Fatalf("instrument %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), instrumented, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	cfg := benchConfig(dir)
	cfg.Limits.Timeout = timeout
	rt, err := newDeadlineCheckRuntime(context.Background(), cfg)
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
	rt := openDeadlineCheckRuntime(t, timeout, map[string][]byte{
		"echo.wasm":      readTestGuest(t, "testdata", "plugins", "echo.wasm"),
		"loop.wasm":      readTestGuest(t, "testdata", "plugins", "loop.wasm"),
		"recursion.wasm": readTestGuest(t, "testdata", "bench", "recursion.wasm"),
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exec, err := rt.Executor(tt.executor)
			if err != nil {
				t.Fatal(err)
			}
			for round := range 3 {
				start := time.Now()
				_, err := rt.fireWithDeadlineChecks(context.Background(), exec, args)
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

				out, err := rt.fireWithDeadlineChecks(context.Background(), echo, args)
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
	rt := openDeadlineCheckRuntime(t, time.Hour, map[string][]byte{
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
				_, err := rt.fireWithDeadlineChecks(ctx, exec, []byte(`{}`))
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
	// A guest that never returns to Go would block each stop-the-world
	// phase of the garbage collector until its deadline, or forever
	// without one. deadline_check is the guest's way back into Go.
	const timeout = 500 * time.Millisecond
	rt := openDeadlineCheckRuntime(t, timeout, map[string][]byte{
		"loop.wasm": readTestGuest(t, "testdata", "plugins", "loop.wasm"),
	})
	exec, err := rt.Executor("test-loop")
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := rt.fireWithDeadlineChecks(context.Background(), exec, []byte(`{}`))
		done <- err
	}()

	var cycles int
	var slowest time.Duration
	for running := true; running; {
		select {
		case err = <-done:
			running = false
		default:
			start := time.Now()
			goruntime.GC()
			slowest = max(slowest, time.Since(start))
			cycles++
		}
	}

	var limit *LimitError
	if !errors.As(err, &limit) || limit.Limit != "timeout" {
		t.Fatalf("error %v; want a timeout LimitError", err)
	}
	// Collections while the guest spun must not wait for its deadline.
	if cycles < 2 || slowest >= timeout/2 {
		t.Errorf("%d collections during the call, slowest %s; want several, each well under %s", cycles, slowest, timeout/2)
	}
}

func TestDeadlineChecksKeepResults(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and compiles a Go guest")
	}
	rt := openDeadlineCheckRuntime(t, time.Second, map[string][]byte{"crm.wasm": crmGuest(t)})
	exec, err := rt.Executor("sync-to-external-crm")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		record   string
		wantFire bool
		wantBody string
	}{
		{"total above limit", benchRecord, true, benchBody},
		{"total at limit", `{"id":"so-1","totalPrice":100000}`, false, ""},
		{"total missing", `{"id":"so-2","status":"draft"}`, false, ""},
		{"total as string", `{"id":"so-3","totalPrice":"100001"}`, true, `{"orderId":"so-3","totalPrice":"100001"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []byte(`{"typeName":"salesOrder","newRecord":` + tt.record + `,"env":{},"event":"created"}`)
			out, err := rt.fireWithDeadlineChecks(context.Background(), exec, args)
			if err != nil {
				t.Fatal(err)
			}
			if out.Fired != tt.wantFire {
				t.Errorf("fired %v; want %v", out.Fired, tt.wantFire)
			}
			if string(out.Body) != tt.wantBody {
				t.Errorf("body %s; want %s", out.Body, tt.wantBody)
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
		if !bytes.HasPrefix(out, check) {
			t.Fatalf("output % x does not start with the check % x", out, check)
		}
	})
}

func TestInstrumentDeadlineChecksRejectsSIMD(t *testing.T) {
	// (module (func (result v128) v128.const i64x2 0 0)) as built by
	// wat2wasm: the rewriter does not decode SIMD.
	simd := []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00\x01\x7b\x03\x02\x01\x00\x0a\x16\x01\x14\x00\xfd\x0c" +
		"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x0b")
	_, err := instrumentDeadlineChecks(simd)
	if !errors.Is(err, errUninstrumentable) {
		t.Fatalf("error %v; want %v", err, errUninstrumentable)
	}
}

func TestInstrumentDeadlineChecksShiftsCalls(t *testing.T) {
	// calls.wasm calls nothing, so recursion.wasm checks the shift: its
	// exports and its call to $tree must still resolve after the import.
	rt := openDeadlineCheckRuntime(t, time.Second, map[string][]byte{
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

// BenchmarkTerminationDeadlineChecks is BenchmarkTerminationCost's firing
// on the prototype: no WithCloseOnContextDone, a budgeted check per
// function entry and loop header compiled into the guest, and the deadline
// as a context value.
func BenchmarkTerminationDeadlineChecks(b *testing.B) {
	rt := openDeadlineCheckRuntime(b, benchTimeout, map[string][]byte{"crm.wasm": crmGuest(b)})
	exec, err := rt.Executor("sync-to-external-crm")
	if err != nil {
		b.Fatal(err)
	}
	args := benchArgs()
	ctx := context.Background()
	if out, err := rt.fireWithDeadlineChecks(ctx, exec, args); err != nil || string(out.Body) != benchBody {
		b.Fatalf("fireWithDeadlineChecks = body %s, error %v; want body %s", out.Body, err, benchBody)
	}

	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.fireWithDeadlineChecks(ctx, exec, args); err != nil {
			b.Fatal(err)
		}
	}
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
