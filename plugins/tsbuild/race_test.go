//go:build race

package tsbuild

// raceEnabled reports whether the tests were built with -race.
const raceEnabled = true
