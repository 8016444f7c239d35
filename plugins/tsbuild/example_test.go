package tsbuild_test

import (
	"context"
	"fmt"

	"github.com/execvault/execvault/plugins/tsbuild"
)

// Bundle two executor files without the engine, as Build does before it
// appends the bundle to the engine module.
func ExampleBundle() {
	b, err := tsbuild.Bundle(context.Background(), tsbuild.Options{
		Entries: []string{"../examples/ts"},
		BaseDir: "../..",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range b.Files {
		fmt.Println(f)
	}
	fmt.Println("source map:", b.SourceMap != "")
	// Output:
	// plugins/examples/ts/notify-external-service.ts
	// plugins/examples/ts/sync-to-external-crm.ts
	// source map: true
}

// A syntax error reports its file, line and column.
func ExampleBuildError() {
	_, err := tsbuild.Bundle(context.Background(), tsbuild.Options{
		Entries: []string{"testdata/broken/missing-brace.ts"},
		BaseDir: ".",
	})
	fmt.Println(err)
	// Output:
	// bundle TypeScript executors: 1 error
	// testdata/broken/missing-brace.ts:9:1: Expected identifier but found end of file
}
