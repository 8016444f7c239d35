package tsbuild

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// EngineEnv is the environment variable that names the JavaScript engine
// module file.
const EngineEnv = "EXECVAULT_JS_ENGINE"

// EngineFileName is the engine's file name beside the execvault executable.
const EngineFileName = "execvault-js-engine.wasm"

// engineBuildHint explains how to produce the engine. Every not-found error
// ends with it.
const engineBuildHint = "build it with make js-engine, or with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o bin/" +
	EngineFileName + " ./plugins/jsengine, or set " + EngineEnv + " to its path"

// FindEngine returns the path of the JavaScript engine module: the value of
// EngineEnv when getenv returns one, else EngineFileName in the directory of
// executable. It only checks that the file exists. getenv is usually
// os.Getenv and executable the result of os.Executable.
//
// When the file is missing the error wraps ErrEngineNotFound and explains
// how to build the engine.
func FindEngine(getenv func(string) string, executable string) (string, error) {
	if p := getenv(EngineEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("find JavaScript engine: %w: %s=%q does not exist; %s", ErrEngineNotFound, EngineEnv, p, engineBuildHint)
			}
			return "", fmt.Errorf("find JavaScript engine: %s: %w", EngineEnv, err)
		}
		return p, nil
	}

	if executable == "" {
		return "", fmt.Errorf("find JavaScript engine: %w: %s is not set and the executable's directory is unknown; %s",
			ErrEngineNotFound, EngineEnv, engineBuildHint)
	}
	p := filepath.Join(filepath.Dir(executable), EngineFileName)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("find JavaScript engine: %w: %s is not set and %s does not exist; %s", ErrEngineNotFound, EngineEnv, p, engineBuildHint)
		}
		return "", fmt.Errorf("find JavaScript engine: %w", err)
	}
	return p, nil
}

// EngineFromEnv reads the JavaScript engine module found by FindEngine with
// os.Getenv and os.Executable, and returns its bytes and path. Errors wrap
// ErrEngineNotFound, or ErrInvalidEngine when the file does not start with
// the Wasm header.
func EngineFromEnv() (wasm []byte, path string, err error) {
	executable, _ := os.Executable()
	path, err = FindEngine(os.Getenv, executable)
	if err != nil {
		return nil, "", err
	}
	wasm, err = os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read JavaScript engine: %w", err)
	}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, "", fmt.Errorf("read JavaScript engine: %w: %s is not a Wasm module; %s", ErrInvalidEngine, path, engineBuildHint)
	}
	return wasm, path, nil
}
