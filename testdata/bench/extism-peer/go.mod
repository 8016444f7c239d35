module github.com/execvault/execvault/testdata/bench/extism-peer

go 1.26.0

require (
	github.com/execvault/execvault v0.0.0
	github.com/extism/go-pdk v1.1.3
)

replace github.com/execvault/execvault => ../../..
