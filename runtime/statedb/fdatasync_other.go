//go:build !linux

package statedb

import "os"

// fdatasync flushes f to disk. Outside Linux it is a full fsync.
func fdatasync(f *os.File) error { return f.Sync() }
