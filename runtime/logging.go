package runtime

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
)

// lineLogger turns a guest's standard output and error into debug log
// lines, one per line of text.
type lineLogger struct {
	log  *slog.Logger
	file string

	mu      sync.Mutex
	pending []byte
}

// maxGuestLine bounds a buffered partial line.
const maxGuestLine = 4096

func (l *lineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, p...)
	for {
		i := bytes.IndexByte(l.pending, '\n')
		if i < 0 {
			break
		}
		l.emit(l.pending[:i])
		l.pending = l.pending[i+1:]
	}
	if len(l.pending) > maxGuestLine {
		l.emit(l.pending)
		l.pending = l.pending[:0]
	}
	return len(p), nil
}

func (l *lineLogger) emit(line []byte) {
	if len(line) == 0 || !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.log.Debug("guest output", "plugin", l.file, "line", string(line))
}
