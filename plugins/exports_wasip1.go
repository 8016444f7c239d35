package plugins

import (
	"fmt"
	"unsafe"
)

// argBuf receives the arguments of the next firing. execvault_alloc hands
// out its address and execvault_fire reads it back, so the host can only
// point the SDK at memory the SDK owns.
var argBuf []byte

// maxArgBytes bounds one execvault_alloc request; larger requests return 0
// as the ABI prescribes for an allocation that cannot be made.
const maxArgBytes = 1 << 30

//go:wasmexport execvault_alloc
func execvaultAlloc(size int32) int32 {
	if size < 0 || size > maxArgBytes {
		return 0
	}
	if size == 0 {
		size = 1 // a zero-length request still needs a valid, non-zero address
	}
	if cap(argBuf) < int(size) {
		argBuf = make([]byte, size)
	}
	argBuf = argBuf[:cap(argBuf)]
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(argBuf))))
}

//go:wasmexport execvault_manifest
func execvaultManifest() int64 {
	data, err := ManifestJSON()
	if err != nil {
		// The host rejects anything that is not a manifest and shows this
		// text in its error.
		data = []byte(err.Error())
	}
	return pack(data)
}

//go:wasmexport execvault_fire
func execvaultFire(executor, ptr, size int32) int64 {
	base := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(argBuf))))
	offset := uint32(ptr) - base
	if len(argBuf) == 0 || size < 0 || uint32(ptr) < base || uint64(offset)+uint64(size) > uint64(len(argBuf)) {
		return pack(guest.fail(errArgsOutsideBuffer(ptr, size)))
	}
	return pack(Fire(int(executor), argBuf[offset:offset+uint32(size)]))
}

// pack returns the ABI's (ptr << 32) | len for b.
func pack(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	ptr := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	return int64(ptr<<32 | uint64(uint32(len(b))))
}

// errArgsOutsideBuffer is the error for an execvault_fire call whose
// arguments do not lie in the buffer that execvault_alloc returned.
func errArgsOutsideBuffer(ptr, size int32) error {
	return fmt.Errorf("fire: %w: %d bytes at %#x are not inside the buffer returned by execvault_alloc; write the arguments there", ErrArgumentsOutsideBuffer, size, uint32(ptr))
}
