//go:build wasip1

package main

import (
	"strings"
	"time"
	"unsafe"
)

// inbox is the buffer execvault_alloc hands out, into which the host writes
// the bundle or a firing's arguments. A package variable keeps the memory
// alive and unmoved until the next allocation.
var inbox []byte

// outbox holds the last buffer returned to the host, so that it stays valid
// until the next call into the guest.
var outbox []byte

var theEngine = newEngine(host{log: hostLog, now: hostNow})

var theCollector = newCollector()

//go:wasmimport execvault log
//go:noescape
func execvaultLog(level int32, ptr unsafe.Pointer, size int32)

//go:wasmimport execvault clock_now
func execvaultClockNow() int64

func hostLog(level int32, msg string) {
	if msg == "" {
		msg = " "
	}
	execvaultLog(level, unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}

func hostNow() time.Time {
	return time.Unix(0, execvaultClockNow())
}

//go:wasmexport execvault_alloc
func execvaultAlloc(size int32) int32 {
	if size < 0 {
		return 0
	}
	if cap(inbox) < int(size) || cap(inbox) == 0 {
		inbox = make([]byte, max(int(size), 1))
	}
	inbox = inbox[:cap(inbox)]
	return int32(uintptr(unsafe.Pointer(&inbox[0])))
}

// received returns the size bytes the host wrote at ptr, which must lie
// inside the buffer of the latest execvault_alloc call. The host may reuse
// that buffer for many firings, so nothing may keep the returned slice
// past the call.
func received(ptr, size int32) ([]byte, bool) {
	if len(inbox) == 0 || size < 0 {
		return nil, false
	}
	offset := int64(uint32(ptr)) - int64(uintptr(unsafe.Pointer(&inbox[0])))
	if offset < 0 || offset+int64(size) > int64(len(inbox)) {
		return nil, false
	}
	return inbox[offset : offset+int64(size)], true
}

//go:wasmexport execvault_load
func execvaultLoad(ptr, size int32) int64 {
	payload, ok := received(ptr, size)
	if !ok {
		return pack([]byte("load bundle: the payload is not in the buffer returned by execvault_alloc"))
	}
	if err := theEngine.load(payload); err != nil {
		// The host adds its own "load bundle" context to the message.
		return pack([]byte(strings.TrimPrefix(err.Error(), "load bundle: ")))
	}
	// Parsing and compiling the bundle leaves garbage that the first
	// firings would otherwise pay to collect.
	theCollector.collect()
	return 0
}

//go:wasmexport execvault_manifest
func execvaultManifest() int64 {
	data, err := theEngine.manifestJSON()
	if err != nil {
		// json.Marshal fails only on values such as channels and NaN,
		// which the manifest structs cannot hold. An empty manifest
		// would make the host reject the module.
		data = []byte("{}")
	}
	return pack(data)
}

//go:wasmexport execvault_fire
func execvaultFire(index, ptr, size int32) int64 {
	theCollector.betweenFirings()
	args, ok := received(ptr, size)
	if !ok {
		return pack(append([]byte{statusError}, "fire: the arguments are not in the buffer returned by execvault_alloc"...))
	}
	return pack(theEngine.fire(index, args))
}

// pack keeps data alive in outbox and returns (ptr << 32) | len.
func pack(data []byte) int64 {
	outbox = data
	if len(data) == 0 {
		return 0
	}
	ptr := uint64(uintptr(unsafe.Pointer(&data[0])))
	return int64(ptr<<32 | uint64(len(data)))
}
