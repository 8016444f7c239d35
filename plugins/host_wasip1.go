package plugins

import "unsafe"

//go:wasmimport execvault log
func hostLog(level int32, ptr unsafe.Pointer, size int32)

//go:wasmimport execvault secret_get
func hostSecretGet(vaultPtr unsafe.Pointer, vaultLen int32, keyPtr unsafe.Pointer, keyLen int32, outPtr unsafe.Pointer, outCap int32) int32

//go:wasmimport execvault clock_now
func hostClockNow() int64

func init() { currentHost = wasmHost{} }

// wasmHost calls the execvault import module.
type wasmHost struct{}

func (wasmHost) Log(level int32, msg []byte) {
	hostLog(level, unsafe.Pointer(unsafe.SliceData(msg)), int32(len(msg)))
}

func (wasmHost) SecretGet(vault, key string, out []byte) int32 {
	return hostSecretGet(
		unsafe.Pointer(unsafe.StringData(vault)), int32(len(vault)),
		unsafe.Pointer(unsafe.StringData(key)), int32(len(key)),
		unsafe.Pointer(unsafe.SliceData(out)), int32(len(out)),
	)
}

func (wasmHost) ClockNow() int64 { return hostClockNow() }
