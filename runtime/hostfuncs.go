package runtime

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/execvault/execvault/plugins"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// hostModuleName is the import module that holds every host function.
const hostModuleName = "execvault"

// Results of secret_get other than a length.
const (
	secretDenied   = -1
	secretNotFound = -2
	secretFailed   = -3
)

// SecretReader gives guests the secrets their manifests declare. The
// runtime checks the declaration before calling it.
type SecretReader interface {
	// ReadSecret returns the value of ref for the named actor, or found
	// false when the vault or secret does not exist.
	ReadSecret(ctx context.Context, ref plugins.SecretRef, actor string) (value []byte, found bool, err error)
	// RecordDenied records an attempt to read an undeclared secret.
	RecordDenied(ctx context.Context, ref plugins.SecretRef, actor string)
}

// instantiateHostModule defines the execvault import module in r.
func (rt *Runtime) instantiateHostModule(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(hostModuleName).
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(rt.hostLog),
		[]api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}, nil).Export("log").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(rt.hostSecretGet),
		[]api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32},
		[]api.ValueType{api.ValueTypeI32}).Export("secret_get").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(rt.hostClockNow),
		nil, []api.ValueType{api.ValueTypeI64}).Export("clock_now").
		NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostDeadlineCheck),
		nil, nil).Export(deadlineCheckImport).
		Instantiate(ctx)
	return err
}

// hostLog implements log(level, ptr, len).
func (rt *Runtime) hostLog(ctx context.Context, mod api.Module, stack []uint64) {
	level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
	exec := callExecutor(ctx)
	name := "unknown"
	var limiter *logLimiter
	if exec != nil {
		name = exec.Name
		limiter = exec.logLimiter
	}
	if limiter != nil {
		ok, firstDrop := limiter.allow(time.Now())
		if firstDrop {
			rt.guestLog.LogAttrs(ctx, slog.LevelWarn, "guest log rate limit reached; dropping lines",
				slog.String("executor", name), slog.Int("lines_per_second", int(limiter.rate)))
		}
		if !ok {
			return
		}
	}

	const maxLogBytes = 4096
	if n > maxLogBytes {
		n = maxLogBytes
	}
	msg, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return
	}

	var lvl slog.Level
	switch {
	case level <= 0:
		lvl = slog.LevelDebug
	case level == 1:
		lvl = slog.LevelInfo
	case level == 2:
		lvl = slog.LevelWarn
	default:
		lvl = slog.LevelError
	}
	attrs := []slog.Attr{slog.String("executor", name), slog.String("message", string(msg))}
	if limiter != nil {
		if dropped := limiter.takeDropped(); dropped > 0 {
			attrs = append(attrs, slog.Int("dropped_lines", dropped))
		}
	}
	rt.guestLog.LogAttrs(ctx, lvl, "guest log", attrs...)
}

// hostSecretGet implements secret_get(vault, key, out) -> length or error code.
func (rt *Runtime) hostSecretGet(ctx context.Context, mod api.Module, stack []uint64) {
	result := func(v int32) { stack[0] = uint64(uint32(v)) }

	mem := mod.Memory()
	vault, ok1 := mem.Read(uint32(stack[0]), uint32(stack[1]))
	key, ok2 := mem.Read(uint32(stack[2]), uint32(stack[3]))
	outPtr, outCap := uint32(stack[4]), uint32(stack[5])
	if !ok1 || !ok2 {
		result(secretFailed)
		return
	}
	ref := plugins.SecretRef{Vault: string(vault), Key: string(key)}

	exec := callExecutor(ctx)
	if exec == nil || !exec.declares(ref) {
		actor := "executor:unknown"
		if exec != nil {
			actor = exec.actor
		}
		rt.log.Warn("guest read of undeclared secret denied", "executor", actorName(exec), "vault", ref.Vault, "key", ref.Key)
		if rt.cfg.Secrets != nil {
			rt.cfg.Secrets.RecordDenied(ctx, ref, actor)
		}
		result(secretDenied)
		return
	}
	if rt.cfg.Secrets == nil {
		result(secretFailed)
		return
	}

	// The guest call carries its deadline as a value, not as a context
	// deadline, so the read gets one of its own.
	rctx, cancel := context.WithDeadline(ctx, currentCall(ctx).deadline)
	value, found, err := rt.cfg.Secrets.ReadSecret(rctx, ref, exec.actor)
	cancel()
	switch {
	case err != nil:
		rt.log.Warn("guest secret read failed", "executor", exec.Name, "vault", ref.Vault, "key", ref.Key, "error", err)
		result(secretFailed)
		return
	case !found:
		result(secretNotFound)
		return
	}
	if uint32(len(value)) <= outCap && !mem.Write(outPtr, value) {
		clear(value)
		result(secretFailed)
		return
	}
	clear(value)
	result(int32(len(value)))
}

// hostClockNow implements clock_now() -> nanoseconds since the Unix epoch.
func (rt *Runtime) hostClockNow(_ context.Context, _ api.Module, stack []uint64) {
	stack[0] = uint64(time.Now().UnixNano())
}

func actorName(e *Executor) string {
	if e == nil {
		return "unknown"
	}
	return e.Name
}

// logLimiter is a token bucket that allows rate lines per second with a
// burst of the same size, and counts what it drops.
type logLimiter struct {
	mu      sync.Mutex
	rate    float64
	tokens  float64
	last    time.Time
	dropped int
}

func newLogLimiter(perSecond int) *logLimiter {
	return &logLimiter{rate: float64(perSecond), tokens: float64(perSecond)}
}

// allow reports whether a line may be written now, and firstDrop when this
// is the first line dropped since lines last passed, so the drop can be
// reported at once rather than with the next line that passes.
func (l *logLimiter) allow(now time.Time) (ok, firstDrop bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens += now.Sub(l.last).Seconds() * l.rate
		if l.tokens > l.rate {
			l.tokens = l.rate
		}
	}
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		return false, l.dropped == 1
	}
	l.tokens--
	return true, false
}

func (l *logLimiter) takeDropped() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.dropped
	l.dropped = 0
	return n
}
