package plugins

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
)

// Logger returns a logger whose records go to the host log through the
// execvault.log import, tagged by the host with the executor's name. Time
// and level are not written into the message because the host adds both.
// The host rate-limits messages per executor. The logger is safe for
// concurrent use.
func Logger() *slog.Logger {
	return slog.New(newHostHandler())
}

// hostHandler formats records with slog's text format and hands each one
// to Host.Log with the level mapped to the ABI's 0 to 3.
type hostHandler struct {
	state *hostHandlerState
	text  slog.Handler
}

// hostHandlerState is shared by a handler and the children that WithAttrs
// and WithGroup derive from it, because they write through one buffer.
type hostHandlerState struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newHostHandler() *hostHandler {
	st := &hostHandlerState{}
	text := slog.NewTextHandler(&st.buf, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &hostHandler{state: st, text: text}
}

func (h *hostHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.text.Enabled(ctx, level)
}

func (h *hostHandler) Handle(ctx context.Context, r slog.Record) error {
	h.state.mu.Lock()
	defer h.state.mu.Unlock()

	h.state.buf.Reset()
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	msg := bytes.TrimSuffix(h.state.buf.Bytes(), []byte("\n"))
	currentHost.Log(abiLogLevel(r.Level), msg)
	return nil
}

func (h *hostHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &hostHandler{state: h.state, text: h.text.WithAttrs(attrs)}
}

func (h *hostHandler) WithGroup(name string) slog.Handler {
	return &hostHandler{state: h.state, text: h.text.WithGroup(name)}
}

// abiLogLevel maps a slog level to the log import's 0 debug, 1 info,
// 2 warn and 3 error.
func abiLogLevel(l slog.Level) int32 {
	switch {
	case l < slog.LevelInfo:
		return 0
	case l < slog.LevelWarn:
		return 1
	case l < slog.LevelError:
		return 2
	default:
		return 3
	}
}
