package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/execvault/execvault/plugins/manifest"
	"reflect"
	"strings"
	"time"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"

	"github.com/execvault/execvault/plugins/jsengine/jsbundle"
)

// Result status bytes of execvault_fire.
const (
	statusSkip  = 0x00
	statusFire  = 0x01
	statusError = 0x02
)

// Log levels of the execvault.log host function.
const (
	levelDebug = 0
	levelInfo  = 1
	levelWarn  = 2
	levelError = 3
)

// maxCallStackSize bounds JavaScript recursion, so that runaway recursion
// throws a RangeError instead of growing guest memory until the host's cap.
const maxCallStackSize = 2048

// bundleScriptName is the name the bundle's code is compiled under. Source
// map paths resolve relative to it, so they reach stack traces unchanged.
const bundleScriptName = "bundle.js"

// host holds the engine's view of its embedder: the execvault.log and
// execvault.clock_now imports on wasip1, plain Go functions in native tests.
type host struct {
	log func(level int32, msg string)
	now func() time.Time
}

// engine is one JavaScript runtime holding one loaded bundle. It is not
// safe for concurrent use, which matches a Wasm instance: the host never
// calls into one instance concurrently.
type engine struct {
	host      host
	vm        *goja.Runtime
	json      *jsonWriter
	args      *argumentsFactory
	executors []*executor

	// functionToString is Function.prototype.toString as the runtime
	// started with it.
	functionToString goja.Callable
	// callArgs holds the one argument of a callback call, so that calls do
	// not allocate the variadic slice.
	callArgs [1]goja.Value

	// loadCalled is set by the first load, successful or not: a failed
	// load may leave the runtime's globals half set up, so the instance
	// is not reused. loaded is set only when that load succeeded.
	loadCalled bool
	loaded     bool

	// out is the result buffer, reused across firings.
	out []byte
}

func newEngine(h host) *engine {
	vm := goja.New()
	vm.SetMaxCallStackSize(maxCallStackSize)
	if h.now != nil {
		vm.SetTimeSource(h.now)
	}
	e := &engine{host: h, vm: vm}
	e.json = newJSONWriter(vm)
	e.args = newArgumentsFactory(vm)
	function, _ := vm.Get("Function").(*goja.Object)
	if function != nil {
		if proto, _ := function.Get("prototype").(*goja.Object); proto != nil {
			e.functionToString, _ = goja.AssertFunction(proto.Get("toString"))
		}
	}
	installConsole(vm, e.logf)
	return e
}

func (e *engine) logf(level int32, msg string) {
	if e.host.log != nil {
		e.host.log(level, msg)
	}
}

// load evaluates a bundle and reads every executor definition in it. It
// may be called once per engine. After a failure the engine keeps no
// executors, so its manifest stays empty.
func (e *engine) load(payload []byte) (err error) {
	defer recoverInto(&err, "load bundle")
	if e.loadCalled {
		return errors.New("load bundle: execvault_load was already called on this instance; create a new instance for another bundle")
	}
	e.loadCalled = true
	b, err := jsbundle.Decode(payload)
	if err != nil {
		return err
	}

	code := b.Code
	var opts []parser.Option
	if b.SourceMap != "" {
		code = strings.TrimRight(code, "\n") + "\n//# sourceMappingURL=" + bundleScriptName + ".map\n"
		sourceMap := []byte(b.SourceMap)
		opts = append(opts, parser.WithSourceMapLoader(func(string) ([]byte, error) { return sourceMap, nil }))
	} else {
		opts = append(opts, parser.WithDisableSourceMaps)
	}
	ast, err := goja.Parse(bundleScriptName, code, opts...)
	if err != nil {
		return fmt.Errorf("load bundle: parse bundled script: %w; rebuild the plugin", err)
	}
	program, err := goja.CompileAST(ast, false)
	if err != nil {
		return fmt.Errorf("load bundle: compile bundled script: %w; rebuild the plugin", err)
	}
	if _, err := e.vm.RunProgram(program); err != nil {
		return fmt.Errorf("load bundle: evaluate executor files: %s", describeError(err))
	}

	global, ok := e.vm.Get(jsbundle.GlobalName).(*goja.Object)
	if !ok {
		return fmt.Errorf("load bundle: the script did not set %s; rebuild the plugin with execvault", jsbundle.GlobalName)
	}
	entries, ok := global.Get("entries").(*goja.Object)
	if !ok || !isArrayObject(entries) || entries.Get("length").ToInteger() != int64(len(b.Files)) {
		return fmt.Errorf("load bundle: %s.entries does not hold one module for each of the %d files; rebuild the plugin with execvault",
			jsbundle.GlobalName, len(b.Files))
	}

	names := make(map[string]string)
	executors := make([]*executor, 0, len(b.Files))
	for i, file := range b.Files {
		namespace, ok := entries.Get(fmt.Sprint(i)).(*goja.Object)
		if !ok {
			return fmt.Errorf("load bundle: %s: module namespace is missing; rebuild the plugin with execvault", file)
		}
		def := namespace.Get("default")
		if def == nil {
			return fmt.Errorf("load bundle: %s has no default export: end the file with export default createExecutor({ ... })", file)
		}
		var ex *executor
		if exception := e.vm.Try(func() { ex, err = readExecutor(file, def) }); exception != nil {
			return fmt.Errorf("load bundle: %s: reading the definition raised %s", file, describeError(exception))
		}
		if err != nil {
			return fmt.Errorf("load bundle: %w", err)
		}
		if other, dup := names[ex.def.Name]; dup {
			return fmt.Errorf("load bundle: executor name %q is defined in both %s and %s: names must be unique", ex.def.Name, other, file)
		}
		names[ex.def.Name] = file
		if ex.bodyValue != nil {
			if src, ok := e.functionSource(ex.bodyValue); ok {
				ex.bodyShape = returnedLiteralShape(src)
				ex.direct = directBodyOf(src)
			}
		}
		executors = append(executors, ex)
	}
	e.executors = executors
	e.loaded = true
	return nil
}

// manifestJSON returns the manifest of the loaded bundle. Before a bundle is
// loaded it returns a manifest with no executors, which the host rejects.
func (e *engine) manifestJSON() ([]byte, error) {
	m := manifest.Manifest{ABIVersion: manifest.ABIVersion, SDK: sdkName, Executors: []manifest.Executor{}}
	for _, ex := range e.executors {
		m.Executors = append(m.Executors, ex.def)
	}
	return json.Marshal(m)
}

// fire runs executor number index on the arguments JSON and returns the
// result buffer of execvault_fire. The buffer is reused by the next call.
func (e *engine) fire(index int32, args []byte) (result []byte) {
	defer func() {
		if r := recover(); r != nil {
			result = e.failure(fmt.Sprintf("engine panic while firing: %v", r))
		}
	}()
	if !e.loaded {
		return e.failure("no bundle loaded: the host must call execvault_load before execvault_fire")
	}
	if index < 0 || int(index) >= len(e.executors) {
		return e.failure(fmt.Sprintf("executor index %d out of range: the bundle defines %d executors", index, len(e.executors)))
	}
	ex := e.executors[index]

	argsValue, argsObject, err := e.args.valueObject(args)
	if err != nil {
		return e.failure(fmt.Sprintf("executor %q: invalid arguments: %v; the host must send one JSON object", ex.def.Name, err))
	}

	if ex.condition != nil {
		v, err := e.call(ex.condition, argsValue)
		if err != nil {
			return e.failure(fmt.Sprintf("executor %q: condition failed: %s", ex.def.Name, describeError(err)))
		}
		pass, ok := v.Export().(bool)
		if !ok {
			return e.failure(fmt.Sprintf("executor %q: condition returned %s, expected a boolean%s", ex.def.Name, describe(v), returnHint(v)))
		}
		if !pass {
			e.out = append(e.out[:0], statusSkip)
			return e.out
		}
	}

	var url string
	if ex.url != nil {
		v, err := e.call(ex.url, argsValue)
		if err != nil {
			return e.failure(fmt.Sprintf("executor %q: url failed: %s", ex.def.Name, describeError(err)))
		}
		if !isString(v) || v.String() == "" {
			return e.failure(fmt.Sprintf("executor %q: url returned %s, expected a non-empty URL string", ex.def.Name, describe(v)))
		}
		url = v.String()
	}

	e.out = append(e.out[:0], statusFire, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(e.out[1:5], uint32(len(url)))
	e.out = append(e.out, url...)

	if ex.direct != nil {
		out, done, err := e.json.serializeDirect(e.out, argsObject, ex.direct)
		if err != nil {
			return e.failure(fmt.Sprintf("executor %q: requestBody result cannot be serialised as JSON: %s", ex.def.Name, describeError(err)))
		}
		if done {
			e.out = out
			return e.out
		}
	}
	if ex.body != nil {
		v, err := e.call(ex.body, argsValue)
		if err != nil {
			return e.failure(fmt.Sprintf("executor %q: requestBody failed: %s", ex.def.Name, describeError(err)))
		}
		out, ok, err := e.json.serializeShaped(e.out, v, ex.bodyShape)
		if err != nil {
			return e.failure(fmt.Sprintf("executor %q: requestBody result cannot be serialised as JSON: %s", ex.def.Name, describeError(err)))
		}
		if !ok {
			return e.failure(fmt.Sprintf("executor %q: requestBody returned %s, which has no JSON form%s", ex.def.Name, describe(v), returnHint(v)))
		}
		e.out = out
	}
	return e.out
}

// returnHint returns the end of the error about a callback that returned
// undefined, most often a block body without a return statement on some
// path, and "" for other values.
func returnHint(v goja.Value) string {
	if v != nil && !goja.IsUndefined(v) {
		return ""
	}
	return ": a callback with a block body { ... } must return a value on every path"
}

// call invokes a callback with the arguments object and waits for a
// returned promise: the job queue runs before the call returns, so a
// promise that depends only on other promises is settled by then.
func (e *engine) call(fn goja.Callable, args goja.Value) (goja.Value, error) {
	e.callArgs[0] = args
	v, err := fn(goja.Undefined(), e.callArgs[:]...)
	e.callArgs[0] = nil
	if err != nil {
		return nil, err
	}
	obj, ok := v.(*goja.Object)
	if !ok || obj.ExportType() != promiseType {
		return v, nil
	}
	p, ok := obj.Export().(*goja.Promise)
	if !ok {
		return v, nil
	}
	switch p.State() {
	case goja.PromiseStateFulfilled:
		return p.Result(), nil
	case goja.PromiseStateRejected:
		return nil, &rejection{value: p.Result()}
	default:
		return nil, errors.New("the returned promise never settled: callbacks cannot wait for timers or I/O")
	}
}

// promiseType is the ExportType of a promise. Comparing types is much
// cheaper than Export, which converts an ordinary object into a Go map.
var promiseType = reflect.TypeOf((*goja.Promise)(nil))

func (e *engine) failure(msg string) []byte {
	e.out = append(e.out[:0], statusError)
	e.out = append(e.out, msg...)
	return e.out
}

// recoverInto turns a Go panic inside goja into an error, so that a bug
// in the engine fails one call instead of trapping the whole instance.
func recoverInto(err *error, op string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: engine panic: %v", op, r)
	}
}
