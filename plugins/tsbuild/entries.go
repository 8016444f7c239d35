package tsbuild

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// executorExtensions are the file extensions ExpandEntries takes from a
// directory.
var executorExtensions = []string{".ts", ".mts", ".js", ".mjs"}

// ExpandEntries turns a list of executor files and directories into
// absolute file paths. A file is taken as given, whatever its extension. A
// directory contributes, in name order, the files directly inside it that
// end in .ts, .mts, .js or .mjs, except type declarations (.d.ts), tests
// (.test.* and .spec.*) and names starting with "." or "_". Subdirectories
// are not searched. A path listed twice is taken once.
//
// Errors wrap ErrNoEntries when entries is empty or a directory holds no
// executor file, and name the path when it cannot be read.
func ExpandEntries(entries []string) ([]string, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("expand entries: %w: give executor files or a directory holding them", ErrNoEntries)
	}
	var files []string
	for _, entry := range entries {
		abs, err := filepath.Abs(entry)
		if err != nil {
			return nil, fmt.Errorf("expand entries: %q: %w", entry, err)
		}
		info, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("expand entries: %w", err)
		}
		if !info.IsDir() {
			files = appendNew(files, abs)
			continue
		}

		dirEntries, err := os.ReadDir(abs)
		if err != nil {
			return nil, fmt.Errorf("expand entries: %w", err)
		}
		found := 0
		for _, d := range dirEntries {
			if d.IsDir() || !isExecutorFile(d.Name()) {
				continue
			}
			files = appendNew(files, filepath.Join(abs, d.Name()))
			found++
		}
		if found == 0 {
			return nil, fmt.Errorf("expand entries: %w in directory %q: expected files ending in %s",
				ErrNoEntries, entry, strings.Join(executorExtensions, ", "))
		}
	}
	return files, nil
}

func isExecutorFile(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return false
	}
	ext := filepath.Ext(name)
	if !slices.Contains(executorExtensions, ext) {
		return false
	}
	stem := strings.TrimSuffix(name, ext)
	return !strings.HasSuffix(stem, ".d") && !strings.HasSuffix(stem, ".test") && !strings.HasSuffix(stem, ".spec")
}

func appendNew(files []string, f string) []string {
	if slices.Contains(files, f) {
		return files
	}
	return append(files, f)
}
