package runtime

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// reloadDebounce is how long Watch waits after the last change in the
// plugin directory before it reloads, so that a file being copied in is
// read once it is complete rather than halfway.
const reloadDebounce = 250 * time.Millisecond

// Watch reloads the plugins whenever a .wasm file in the plugin directory
// is added, changed, renamed or removed, until ctx is done. A reload that
// fails leaves the previous set running and is logged with the reason.
// onReload, when not nil, is called after every attempt with its error.
func (rt *Runtime) Watch(ctx context.Context, onReload func(error)) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(rt.cfg.PluginDir); err != nil {
		return err
	}

	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !strings.HasSuffix(ev.Name, ".wasm") || filepath.Dir(ev.Name) != filepath.Clean(rt.cfg.PluginDir) {
				continue
			}
			if timer == nil {
				timer = time.NewTimer(reloadDebounce)
			} else {
				timer.Reset(reloadDebounce)
			}
			fire = timer.C
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			rt.log.Warn("plugin directory watch error", "dir", rt.cfg.PluginDir, "error", err)
		case <-fire:
			fire = nil
			err := rt.Reload(ctx)
			if err != nil {
				rt.log.Error("plugin reload failed; the previous plugins keep running", "dir", rt.cfg.PluginDir, "error", err)
			}
			if onReload != nil {
				onReload(err)
			}
		}
	}
}
