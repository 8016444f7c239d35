package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"time"
)

// Limits bound one firing of an executor. The manifest may override each of
// them per executor.
type Limits struct {
	// Timeout bounds one call into the guest. Default 1 s.
	Timeout time.Duration
	// MemoryPages caps the guest's linear memory, in 64 KiB pages.
	// Default 1024 (64 MiB).
	MemoryPages uint32
	// MaxOutputBytes caps the result a guest returns. Default 4 MiB.
	MaxOutputBytes int
}

// DefaultLimits returns the limits applied when a manifest sets none.
func DefaultLimits() Limits {
	return Limits{Timeout: time.Second, MemoryPages: 1024, MaxOutputBytes: 4 << 20}
}

// Config configures a Runtime.
type Config struct {
	// PluginDir is the directory whose .wasm files are loaded. Required.
	PluginDir string

	// CacheDir holds wazero's compilation cache. Empty disables the
	// on-disk cache, so every start compiles every module again.
	CacheDir string

	// PoolSize is the maximum number of instances per plugin module.
	// Default GOMAXPROCS.
	PoolSize int

	// Limits are the defaults for every executor.
	Limits Limits

	// Env is the JSON object passed as env to every callback. Default {}.
	Env json.RawMessage

	// Secrets resolves the secrets a guest reads through secret_get. May
	// be nil, in which case every such read fails.
	Secrets SecretReader

	// LogRate is how many guest log lines per second each executor may
	// write; the excess is dropped and counted. Default 50.
	LogRate int

	// Logger receives the runtime's logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every default filled in except
// PluginDir.
func DefaultConfig() Config {
	return Config{
		PoolSize: goruntime.GOMAXPROCS(0),
		Limits:   DefaultLimits(),
		Env:      json.RawMessage(`{}`),
		LogRate:  50,
	}
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.PluginDir == "" {
		return errors.New("runtime config: plugin directory is required")
	}
	if c.PoolSize < 1 {
		return fmt.Errorf("runtime config: pool size %d must be at least 1", c.PoolSize)
	}
	if c.Limits.Timeout <= 0 {
		return fmt.Errorf("runtime config: timeout %s must be positive", c.Limits.Timeout)
	}
	if c.Limits.MemoryPages < 1 || c.Limits.MemoryPages > 65536 {
		return fmt.Errorf("runtime config: memory limit %d pages must be between 1 and 65536", c.Limits.MemoryPages)
	}
	if c.Limits.MaxOutputBytes < 1 {
		return fmt.Errorf("runtime config: output limit %d bytes must be positive", c.Limits.MaxOutputBytes)
	}
	if len(c.Env) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(c.Env, &obj); err != nil || obj == nil {
			return fmt.Errorf("runtime config: env must be a JSON object, got %.40q", c.Env)
		}
	}
	if c.LogRate < 0 {
		return fmt.Errorf("runtime config: log rate %d must not be negative", c.LogRate)
	}
	return nil
}

func (c *Config) fillDefaults() {
	d := DefaultConfig()
	if c.PoolSize == 0 {
		c.PoolSize = d.PoolSize
	}
	if c.Limits.Timeout == 0 {
		c.Limits.Timeout = d.Limits.Timeout
	}
	if c.Limits.MemoryPages == 0 {
		c.Limits.MemoryPages = d.Limits.MemoryPages
	}
	if c.Limits.MaxOutputBytes == 0 {
		c.Limits.MaxOutputBytes = d.Limits.MaxOutputBytes
	}
	if len(c.Env) == 0 {
		c.Env = d.Env
	}
	if c.LogRate == 0 {
		c.LogRate = d.LogRate
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}
