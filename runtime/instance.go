package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// Result status bytes of execvault_fire.
const (
	statusSkip  = 0x00
	statusFire  = 0x01
	statusError = 0x02
)

// instance is one instantiated guest. It is used by one goroutine at a
// time: the pool hands it out and takes it back.
type instance struct {
	mod      api.Module
	alloc    api.Function
	fire     api.Function
	manifest api.Function
	memory   *cappedAllocator
	stderr   *tailWriter

	// buf and bufCap describe the argument buffer last obtained from
	// execvault_alloc; it is reused while arguments fit.
	buf    uint32
	bufCap uint32

	// stack is reused for every call so that calls do not allocate.
	stack [3]uint64
}

// Outcome is the result of running one executor on one set of arguments.
type Outcome struct {
	// Fired is false when the condition returned false.
	Fired bool
	// URL is the computed URL, or empty when the manifest's URL applies.
	URL string
	// Body is the request body exactly as the guest produced it.
	Body []byte
}

// call runs fn with the stack prepared by the caller, classifying a failure
// as a limit or a guest error. A non-nil error means the instance must not
// be used again.
func (in *instance) call(ctx context.Context, exec *Executor, fn api.Function, stack []uint64) error {
	err := fn.CallWithStack(ctx, stack)
	if err == nil {
		return nil
	}
	return in.classify(exec, err)
}

func (in *instance) classify(exec *Executor, err error) error {
	name := callName(exec)
	if in.memory.hit.Load() {
		detail := fmt.Sprintf("the guest tried to grow its memory beyond %d pages (%d MiB)", in.memory.limit/65536, in.memory.limit>>20)
		if exec == nil {
			detail += loadMemoryHint
		}
		return &LimitError{Executor: name, Limit: "memory", Detail: detail}
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			if exec == nil {
				return &LimitError{Limit: "timeout",
					Detail: fmt.Sprintf("the call ran longer than %s%s", initTimeout, loadTimeoutHint)}
			}
			return &LimitError{Executor: name, Limit: "timeout",
				Detail: fmt.Sprintf("the call ran longer than %s", exec.Limits.Timeout)}
		case sys.ExitCodeContextCanceled:
			if exec == nil {
				return fmt.Errorf("loading the plugin: call canceled: %w", context.Canceled)
			}
			return fmt.Errorf("executor %q: call canceled: %w", name, context.Canceled)
		}
		msg := fmt.Sprintf("the guest exited with status %d", exit.ExitCode())
		if tail := in.stderr.String(); tail != "" {
			msg += ": " + tail
		}
		return &GuestError{Executor: name, Message: msg}
	}
	// A trap: keep wazero's first line, which names the trap, and drop
	// the Wasm stack trace that follows.
	msg, _, _ := strings.Cut(err.Error(), "\n")
	return &GuestError{Executor: name, Message: "trap: " + msg}
}

// Hints that end a limit error raised while a plugin loads: no callback
// runs then, only the code at the top level of the plugin's sources.
const (
	loadTimeoutHint = ": code that runs when the plugin loads (top-level statements of executor files, Go init functions) must finish sooner; look there for a loop that does not end"
	loadMemoryHint  = ": code that runs when the plugin loads (top-level statements of executor files, Go init functions) must allocate less; look there for data that keeps growing"
)

// callName names the executor a call runs for, or returns "" for a call
// made while the plugin loads, so that errors report a failed load.
func callName(exec *Executor) string {
	if exec == nil {
		return ""
	}
	return exec.Name
}

// writeArgs copies args into guest memory and returns their address.
func (in *instance) writeArgs(ctx context.Context, exec *Executor, args []byte) (uint32, error) {
	n := uint32(len(args))
	if n > in.bufCap || in.buf == 0 {
		size := n
		if size < 4096 {
			size = 4096
		}
		in.stack[0] = uint64(size)
		if err := in.call(ctx, exec, in.alloc, in.stack[:1]); err != nil {
			return 0, err
		}
		ptr := uint32(in.stack[0])
		if ptr == 0 {
			return 0, &GuestError{Executor: callName(exec), Message: fmt.Sprintf("execvault_alloc(%d) returned 0", size)}
		}
		in.buf, in.bufCap = ptr, size
	}
	if !in.mod.Memory().Write(in.buf, args) {
		return 0, &GuestError{Executor: callName(exec), Message: fmt.Sprintf("execvault_alloc returned address %d, outside memory", in.buf)}
	}
	return in.buf, nil
}

// readPacked copies the buffer described by a packed i64 out of guest
// memory, enforcing the output limit.
func (in *instance) readPacked(exec *Executor, packed uint64, limit int) ([]byte, error) {
	ptr, n := uint32(packed>>32), uint32(packed)
	if int64(n) > int64(limit) {
		return nil, &LimitError{Executor: callName(exec), Limit: "output",
			Detail: fmt.Sprintf("the guest returned %d bytes, more than the %d allowed", n, limit)}
	}
	view, ok := in.mod.Memory().Read(ptr, n)
	if !ok {
		return nil, &GuestError{Executor: callName(exec), Message: fmt.Sprintf("result at %d+%d lies outside guest memory", ptr, n)}
	}
	out := make([]byte, n)
	copy(out, view)
	return out, nil
}

// run calls execvault_fire for exec on args.
func (in *instance) run(ctx context.Context, exec *Executor, args []byte) (Outcome, error) {
	ptr, err := in.writeArgs(ctx, exec, args)
	if err != nil {
		return Outcome{}, err
	}

	in.stack[0], in.stack[1], in.stack[2] = uint64(exec.Index), uint64(ptr), uint64(len(args))
	if err := in.call(ctx, exec, in.fire, in.stack[:3]); err != nil {
		return Outcome{}, err
	}
	res, err := in.readPacked(exec, in.stack[0], exec.Limits.MaxOutputBytes)
	if err != nil {
		return Outcome{}, err
	}
	return decodeResult(exec, res)
}

// errGuestReported marks a failure the guest itself returned; the instance
// stays usable.
var errGuestReported = errors.New("guest reported an error")

func decodeResult(exec *Executor, res []byte) (Outcome, error) {
	if len(res) == 0 {
		return Outcome{}, &GuestError{Executor: exec.Name, Message: "execvault_fire returned an empty result"}
	}
	switch res[0] {
	case statusSkip:
		return Outcome{}, nil
	case statusFire:
		if len(res) < 5 {
			return Outcome{}, &GuestError{Executor: exec.Name, Message: "fire result shorter than its 4-byte URL length"}
		}
		n := binary.LittleEndian.Uint32(res[1:5])
		if uint64(n) > uint64(len(res)-5) {
			return Outcome{}, &GuestError{Executor: exec.Name, Message: fmt.Sprintf("fire result declares a %d-byte URL but holds %d bytes", n, len(res)-5)}
		}
		out := Outcome{Fired: true, URL: string(res[5 : 5+n]), Body: res[5+n:]}
		if out.URL == "" && exec.Operation.DynamicURL {
			return Outcome{}, &GuestError{Executor: exec.Name, Message: "the url callback returned an empty URL"}
		}
		return out, nil
	case statusError:
		return Outcome{}, fmt.Errorf("%w: %w", &GuestError{Executor: exec.Name, Message: string(res[1:])}, errGuestReported)
	default:
		return Outcome{}, &GuestError{Executor: exec.Name, Message: fmt.Sprintf("unknown result status 0x%02x", res[0])}
	}
}

// tailWriter keeps the last bytes written to it, for error messages about
// a guest that exited.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.buf))
}
