// Package tsbuild turns TypeScript executor files into an execvault plugin
// module. It bundles the files with esbuild's Go API into one script with a
// source map and appends that bundle to the JavaScript engine module (built
// from ./plugins/jsengine) as the execvault.bundle custom section.
//
// # Executor files
//
// Each executor file default-exports one definition made with
// createExecutor, as on the platform:
//
//	import { createExecutor, recordCreatedTrigger } from "@tailor-platform/sdk";
//	import { order } from "../tailordb/order";
//
//	export default createExecutor({
//		name: "notify-external-service",
//		trigger: recordCreatedTrigger({ type: order }),
//		operation: {
//			kind: "webhook",
//			url: "https://api.example.com/orders",
//			headers: { Authorization: { vault: "api-keys", key: "external-api-token" } },
//			requestBody: ({ newRecord }) => ({ orderId: newRecord.id }),
//		},
//	});
//
// The import "@tailor-platform/sdk" resolves to a module embedded in this
// package that provides createExecutor, recordCreatedTrigger,
// recordUpdatedTrigger, recordDeletedTrigger, recordTrigger,
// scheduleTrigger, incomingWebhookTrigger and a minimal db.type. Other
// imports, relative files and packages in node_modules alike, are bundled
// as esbuild resolves them, so callbacks may use imported constants and
// helpers.
//
// # TailorDB type imports
//
// Executors name their record type by importing it from the application's
// TailorDB files, which execvault does not need. The rule covers relative
// and absolute import paths with a directory named "tailordb" in them.
// When such a path names no existing file, tried as esbuild does (as given,
// with a source extension, with .js swapped for .ts, or as a directory with
// an index file), it resolves to a virtual module. Each name x that the
// importing file imports or re-exports from that path with braces, as in
// import { x } from "../tailordb/order", is exported as { name: "x" }, and
// the default export is { name: "order" }, after the file name. When the
// file exists it is bundled like any other, and the trigger takes the type
// name from the name property of what it exports, such as the result of
// db.type("Order", { ... }).
//
// Namespace imports (import * as types) of a missing file export nothing,
// so name the types in braces or create the file.
//
// # Errors
//
// A syntax error or an import that does not resolve fails Build with a
// *BuildError whose problems read "file:line:column: message". Definitions
// are checked when the plugin is loaded, by the engine, with messages that
// name the file, the executor and the property.
package tsbuild
