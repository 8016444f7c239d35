// Package diskfault makes a file that the process holds open fail the way
// a file on a broken disk fails, so that tests can check what the code that
// owns the file does then. Only tests import it.
//
// It needs Linux, because it finds the open descriptors through
// /proc/self/fd and replaces each one in place with dup3. The code under
// test needs no hook and cannot tell.
package diskfault

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// FailFlushes makes every later flush (fsync, fdatasync) of the file at
// path fail with EINVAL, while writes still reach the file. That is the
// state of a disk that failed to write back the page cache. It acts on
// the descriptors that the process holds open on path, not on files
// opened afterwards, and fails the test when there is none.
//
// Each descriptor is replaced by the write end of a pipe, which rejects
// flushes, and a goroutine appends what arrives on the pipe to the file.
// The returned function waits until the owner has closed the descriptors
// and everything written through them is in the file.
func FailFlushes(tb testing.TB, path string) (drained func()) {
	tb.Helper()
	target := absPath(tb, path)
	fds := openDescriptors(tb, target)

	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		tb.Fatalf("create pipe: %v", err)
	}
	r := os.NewFile(uintptr(p[0]), "pipe")
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		tb.Fatal(err)
	}
	// The goroutine ends when the owner closes the last replaced
	// descriptor, which closes the pipe's write end.
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, r)
		r.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	for _, fd := range fds {
		if err := syscall.Dup3(p[1], fd, syscall.O_CLOEXEC); err != nil {
			tb.Fatalf("replace descriptor %d of %s: %v", fd, path, err)
		}
	}
	syscall.Close(p[1])

	wait := sync.OnceValue(func() error { return <-done })
	return func() {
		tb.Helper()
		if err := wait(); err != nil {
			tb.Fatalf("append to %s what was written to it: %v", path, err)
		}
	}
}

// absPath returns path with symbolic links resolved, as /proc/self/fd
// shows it.
func absPath(tb testing.TB, path string) string {
	tb.Helper()
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		tb.Fatal(err)
	}
	p, err = filepath.Abs(p)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// openDescriptors returns the process's descriptors open on target. It
// fails the test when there is none.
func openDescriptors(tb testing.TB, target string) []int {
	tb.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatalf("list open descriptors: %v", err)
	}
	var fds []int
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && link == target {
			fds = append(fds, fd)
		}
	}
	if len(fds) == 0 {
		tb.Fatalf("no descriptor is open on %s", target)
	}
	return fds
}
