//go:build unix

package tsbuild

import (
	"syscall"
	"time"
)

// processCPUTime returns the user plus system CPU time of this process.
// Benchmarks report it besides wall time, because on a shared, loaded
// machine wall time mostly measures waiting for a core.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
