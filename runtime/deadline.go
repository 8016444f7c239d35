package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"time"

	"github.com/tetratelabs/wabin/binary"
	"github.com/tetratelabs/wabin/leb128"
	wabin "github.com/tetratelabs/wabin/wasm"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// The runtime stops a guest that runs past its deadline without wazero's
// WithCloseOnContextDone, which compiles an exit to Go into every loop
// header and starts a goroutine per call. Instead, loadPluginBytes rewrites
// each module before compiling it: the rewriter adds a mutable i32 global
// $budget, imports the host function execvault.deadline_check, and at the
// start of every function body and every loop body inserts
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
// deadline_check runs in Go, which gives the scheduler its preemption point
// (machine code that never returns to Go would block every stop-the-world
// phase of the garbage collector), and traps the guest with
// sys.ExitCodeDeadlineExceeded once the call's deadline has passed.
// Checking function entries as well as loops also stops recursion that
// never loops, such as a call tree of exponential size, which loop-only
// checks miss. A function that reaches a loop before it can call gets no
// entry check, because the loop's check already counts each call.

// deadlineCheckImport is the name of the added import in the execvault
// host module.
const deadlineCheckImport = "deadline_check"

// checkBudget is the number of checks between two calls of the host
// function: it bounds both how late a deadline is noticed and how long a
// guest can hold off a stop-the-world pause, to about 1000 loop iterations
// or function calls.
const checkBudget = 1000

// instrumentDeadlineChecks returns the module wasm with the deadline checks
// added. It fails with errReservedImport when the module imports
// execvault.deadline_check itself, with errSIMD when a function body contains
// a SIMD instruction, and with errUninstrumentable  on any other instruction
// it does not decode. The new import comes after the module's other function imports,
// so every defined function's index grows by one and the rewriter updates
// calls, ref.func, exports, the start function, element segments and the
// name section.
func instrumentDeadlineChecks(wasm []byte) ([]byte, error) {
	m, err := binary.DecodeModule(wasm, wabin.CoreFeaturesV2)
	if err != nil {
		return nil, fmt.Errorf("decode module: %w", err)
	}
	for _, imp := range m.ImportSection {
		if imp.Module == hostModuleName && imp.Name == deadlineCheckImport {
			return nil, fmt.Errorf("imports %s.%s: %w", imp.Module, imp.Name, errReservedImport)
		}
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

// instrumentBody copies the expression body with check inserted after the
// block type of every loop, and at its start unless the first loop's check
// covers the entry (entryCovered). The function index of every call and
// ref.func is passed through shift.
func instrumentBody(body, check []byte, shift func(uint32) uint32) ([]byte, error) {
	out := make([]byte, 0, len(body)+len(check)*8)
	if !entryCovered(body) {
		out = append(out, check...)
	}
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

// entryCovered reports whether every run of the expression body reaches a
// loop header before it can call, branch or return: only instructions
// without control flow come before its first loop. The check at that loop
// header then counts the call as the entry check would, so recursion and
// call trees stay bounded. Go's Wasm port starts most functions this way
// (a global.get and a local.set, then the loop it dispatches jumps
// through), and the entry check there made a firing about 5% slower in
// BenchmarkWasmConditionAndBody for no gain.
func entryCovered(body []byte) bool {
	for pc := 0; pc < len(body); {
		op := body[pc]
		switch op {
		case wabin.OpcodeLoop:
			return true
		case wabin.OpcodeIf, wabin.OpcodeElse, wabin.OpcodeEnd, wabin.OpcodeBr, wabin.OpcodeBrIf,
			wabin.OpcodeBrTable, wabin.OpcodeReturn, wabin.OpcodeCall, wabin.OpcodeCallIndirect:
			return false
		}
		next, err := skipImmediates(body, pc+1, op)
		if err != nil {
			// An instruction that instrumentBody then reports.
			return false
		}
		pc = next
	}
	return false
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
	case op == 0xFD:
		return 0, errSIMD
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

// callState is the state of the guest call in progress that host functions
// read. It holds the executor the call runs for, which is nil for
// _initialize, execvault_load and execvault_manifest, and the deadline, with
// its monotonic reading, after which deadline_check stops the call.
type callState struct {
	exec     *Executor
	deadline time.Time
	// yielded is when deadline_check last yielded the processor. Only the
	// goroutine running the call uses it.
	yielded time.Time
}

// yieldInterval is how long a guest runs before deadline_check yields the
// processor to other goroutines. With one processor, as a container limited
// to one CPU gets, the Go scheduler otherwise takes it back only every
// 10 ms or more, and each phase of a garbage collection waits that long.
const yieldInterval = time.Millisecond

// callKey is the context key of a *callState.
type callKey struct{}

// withCall returns ctx carrying a call state for exec with a deadline
// timeout from now. It adds one context value and no timer, goroutine or
// context deadline: deadline_check reads the deadline from the state.
func withCall(ctx context.Context, exec *Executor, timeout time.Duration) context.Context {
	now := time.Now()
	return context.WithValue(ctx, callKey{}, &callState{exec: exec, deadline: now.Add(timeout), yielded: now})
}

// currentCall returns the call state that withCall put in ctx, or nil.
func currentCall(ctx context.Context) *callState {
	s, _ := ctx.Value(callKey{}).(*callState)
	return s
}

// callExecutor returns the executor of the guest call in ctx, or nil.
func callExecutor(ctx context.Context) *Executor {
	if s := currentCall(ctx); s != nil {
		return s.exec
	}
	return nil
}

// hostDeadlineCheck implements execvault.deadline_check, the import the
// rewriter adds. It traps the guest with sys.ExitCodeDeadlineExceeded once
// the call's deadline has passed or the caller's context is past its own
// deadline. It traps with sys.ExitCodeContextCanceled once the caller's
// context is canceled. Every yieldInterval of the call it yields the
// processor to other goroutines. A host function stops the guest by panicking with
// the *sys.ExitError, which wazero returns as the call's error and
// instance.classify reports as the timeout limit or a canceled call. It
// is safe for concurrent use.
func hostDeadlineCheck(ctx context.Context, _ api.Module, _ []uint64) {
	if s := currentCall(ctx); s != nil {
		now := time.Now()
		if now.After(s.deadline) {
			panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
		}
		if now.Sub(s.yielded) >= yieldInterval {
			s.yielded = now
			goruntime.Gosched()
		}
	}
	switch err := ctx.Err(); {
	case errors.Is(err, context.DeadlineExceeded):
		panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
	case err != nil:
		panic(sys.NewExitError(sys.ExitCodeContextCanceled))
	}
}
