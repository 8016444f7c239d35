package main

import (
	"fmt"
	"github.com/execvault/execvault/plugins/manifest"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/dop251/goja"
)

// executor is one loaded definition: its manifest entry and the callbacks
// that stay inside the engine.
type executor struct {
	file      string
	def       manifest.Executor
	condition goja.Callable
	url       goja.Callable
	body      goja.Callable

	// bodyValue is the requestBody function, and bodyShape the shape of
	// the object literal it returns, or nil (see objectShape).
	bodyValue goja.Value
	bodyShape *objectShape
	// direct is the requestBody function when the engine can evaluate it
	// itself, or nil (see directBody).
	direct *directBody
}

// definitionError reports a definition that does not have the expected
// shape. path is the property path inside the definition, such as
// "operation.headers.Authorization".
type definitionError struct {
	where string
	path  string
	msg   string
}

func (e *definitionError) Error() string {
	if e.path == "" {
		return e.where + ": " + e.msg
	}
	return e.where + ": " + e.path + ": " + e.msg
}

// definitionReader reads one executor definition and names the file and the
// executor in every error.
type definitionReader struct {
	where string
}

func (r *definitionReader) fail(path, format string, args ...any) error {
	return &definitionError{where: r.where, path: path, msg: fmt.Sprintf(format, args...)}
}

// readExecutor turns the default export of one executor file into an
// executor.
func readExecutor(file string, value goja.Value) (*executor, error) {
	r := &definitionReader{where: file}
	obj, ok := value.(*goja.Object)
	if !ok || isFunction(value) || isArrayObject(obj) {
		return nil, r.fail("", "default export is %s, expected an executor definition: use export default createExecutor({ ... })", describe(value))
	}
	ex := &executor{file: file}
	name, err := r.requiredString("name", obj.Get("name"))
	if err != nil {
		return nil, err
	}
	ex.def.Name = name
	r.where = fmt.Sprintf("%s: executor %q", file, name)
	if err := r.checkKeys("", obj, "name", "description", "disabled", "trigger", "operation"); err != nil {
		return nil, err
	}

	if ex.def.Description, err = r.optionalString("description", obj.Get("description")); err != nil {
		return nil, err
	}
	if ex.def.Disabled, err = r.optionalBool("disabled", obj.Get("disabled")); err != nil {
		return nil, err
	}
	if err := r.readTrigger(ex, obj.Get("trigger")); err != nil {
		return nil, err
	}
	if err := r.readOperation(ex, obj.Get("operation")); err != nil {
		return nil, err
	}
	return ex, nil
}

// plainIdentifier matches property names that a path can show after a dot.
var plainIdentifier = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// recordEventKinds maps the trigger kinds of single-event record triggers
// to their event.
var recordEventKinds = map[string]string{
	"recordCreated": "created",
	"recordUpdated": "updated",
	"recordDeleted": "deleted",
}

func (r *definitionReader) readTrigger(ex *executor, value goja.Value) error {
	obj, err := r.requiredObject("trigger", value)
	if err != nil {
		return err
	}
	kind, err := r.requiredString("trigger.kind", obj.Get("kind"))
	if err != nil {
		return err
	}

	t := &ex.def.Trigger
	switch {
	case kind == "record" || recordEventKinds[kind] != "":
		allowed := []string{"kind", "typeName", "condition"}
		if kind == "record" {
			allowed = append(allowed, "events")
		}
		if err := r.checkKeys("trigger", obj, allowed...); err != nil {
			return err
		}
		t.Kind = "record"
		if t.TypeName, err = r.requiredString("trigger.typeName", obj.Get("typeName")); err != nil {
			return err
		}
		if event := recordEventKinds[kind]; event != "" {
			t.Events = []string{event}
		} else if t.Events, err = r.readEvents(obj.Get("events")); err != nil {
			return err
		}

	case kind == "schedule":
		if err := r.checkKeys("trigger", obj, "kind", "cron", "timezone", "condition"); err != nil {
			return err
		}
		t.Kind = kind
		if t.Cron, err = r.requiredString("trigger.cron", obj.Get("cron")); err != nil {
			return err
		}
		if t.Timezone, err = r.optionalString("trigger.timezone", obj.Get("timezone")); err != nil {
			return err
		}

	case kind == "incomingWebhook":
		if err := r.checkKeys("trigger", obj, "kind", "token", "response", "condition"); err != nil {
			return err
		}
		t.Kind = kind
		if token := obj.Get("token"); !isAbsent(token) {
			ref, ok, err := r.secretRef("trigger.token", token)
			if err != nil {
				return err
			}
			if !ok {
				return r.fail("trigger.token", "is %s, expected { vault, key }", describe(token))
			}
			t.Token = ref
		}
		if t.Response, err = r.readResponse(obj.Get("response")); err != nil {
			return err
		}

	default:
		return r.fail("trigger.kind", "unknown trigger kind %q: use record, recordCreated, recordUpdated, recordDeleted, schedule or incomingWebhook", kind)
	}

	if cond := obj.Get("condition"); !isAbsent(cond) {
		fn, ok := goja.AssertFunction(cond)
		if !ok {
			return r.fail("trigger.condition", "is %s, expected a function returning a boolean", describe(cond))
		}
		ex.condition = fn
		t.Condition = true
	}
	return nil
}

func (r *definitionReader) readEvents(value goja.Value) ([]string, error) {
	obj, ok := value.(*goja.Object)
	if !ok || !isArrayObject(obj) {
		return nil, r.fail("trigger.events", "is %s, expected an array of \"created\", \"updated\" or \"deleted\"", describe(value))
	}
	length := obj.Get("length").ToInteger()
	if length == 0 {
		return nil, r.fail("trigger.events", "is empty: list one or more of \"created\", \"updated\" and \"deleted\"")
	}
	events := make([]string, 0, length)
	for i := range length {
		path := fmt.Sprintf("trigger.events[%d]", i)
		ev, err := r.requiredString(path, obj.Get(fmt.Sprint(i)))
		if err != nil {
			return nil, err
		}
		if ev != "created" && ev != "updated" && ev != "deleted" {
			return nil, r.fail(path, "unknown record event %q: use \"created\", \"updated\" or \"deleted\"", ev)
		}
		if slices.Contains(events, ev) {
			return nil, r.fail(path, "event %q is listed twice", ev)
		}
		events = append(events, ev)
	}
	return events, nil
}

func (r *definitionReader) readResponse(value goja.Value) (*manifest.Response, error) {
	if isAbsent(value) {
		return nil, nil
	}
	obj, err := r.requiredObject("trigger.response", value)
	if err != nil {
		return nil, err
	}
	if err := r.checkKeys("trigger.response", obj, "status", "headers", "body"); err != nil {
		return nil, err
	}

	resp := &manifest.Response{Status: 200}
	if status := obj.Get("status"); !isAbsent(status) {
		f, ok := status.Export().(float64)
		if i, isInt := status.Export().(int64); isInt {
			f, ok = float64(i), true
		}
		if !ok || f != math.Trunc(f) || f < 200 || f > 599 {
			return nil, r.fail("trigger.response.status", "is %s, expected an HTTP status from 200 to 599", describeValue(status))
		}
		resp.Status = int(f)
	}
	if resp.Body, err = r.optionalString("trigger.response.body", obj.Get("body")); err != nil {
		return nil, err
	}
	if headers := obj.Get("headers"); !isAbsent(headers) {
		hobj, err := r.requiredObject("trigger.response.headers", headers)
		if err != nil {
			return nil, err
		}
		resp.Headers = make(map[string]string)
		for _, name := range hobj.Keys() {
			if resp.Headers[name], err = r.requiredString("trigger.response.headers."+name, hobj.Get(name)); err != nil {
				return nil, err
			}
		}
	}
	return resp, nil
}

func (r *definitionReader) readOperation(ex *executor, value goja.Value) error {
	obj, err := r.requiredObject("operation", value)
	if err != nil {
		return err
	}
	kind, err := r.requiredString("operation.kind", obj.Get("kind"))
	if err != nil {
		return err
	}
	if kind != "webhook" {
		return r.fail("operation.kind", "operation kind %q is not supported: use \"webhook\"", kind)
	}
	if err := r.checkKeys("operation", obj, "kind", "url", "headers", "requestBody"); err != nil {
		return err
	}

	op := &ex.def.Operation
	op.Kind = kind
	switch url := obj.Get("url"); {
	case isFunction(url):
		ex.url, _ = goja.AssertFunction(url)
		op.DynamicURL = true
	case isString(url):
		op.URL = url.String()
		if op.URL == "" {
			return r.fail("operation.url", "is empty: give an http or https URL, or a function of the arguments that returns one")
		}
	default:
		return r.fail("operation.url", "is %s, expected a URL string or a function of the arguments that returns one", describe(url))
	}

	if headers := obj.Get("headers"); !isAbsent(headers) {
		hobj, err := r.requiredObject("operation.headers", headers)
		if err != nil {
			return err
		}
		for _, name := range hobj.Keys() {
			path := "operation.headers." + name
			if !plainIdentifier.MatchString(name) {
				path = fmt.Sprintf("operation.headers[%q]", name)
			}
			hv := hobj.Get(name)
			if isString(hv) {
				op.Headers = append(op.Headers, manifest.Header{Name: name, Value: hv.String()})
				continue
			}
			ref, ok, err := r.secretRef(path, hv)
			if err != nil {
				return err
			}
			if !ok {
				return r.fail(path, "is %s, expected a string or a secret reference { vault, key }", describe(hv))
			}
			op.Headers = append(op.Headers, manifest.Header{Name: name, Secret: ref})
		}
	}

	if body := obj.Get("requestBody"); !isAbsent(body) {
		fn, ok := goja.AssertFunction(body)
		if !ok {
			return r.fail("operation.requestBody", "is %s, expected a function of the arguments that returns the body", describe(body))
		}
		ex.body = fn
		ex.bodyValue = body
		op.RequestBody = true
	}
	return nil
}

// secretRef reads { vault, key }. ok is false when value is not an object;
// an object with other keys or non-string parts is an error.
func (r *definitionReader) secretRef(path string, value goja.Value) (*manifest.SecretRef, bool, error) {
	obj, ok := value.(*goja.Object)
	if !ok || isFunction(value) || isArrayObject(obj) {
		return nil, false, nil
	}
	if err := r.checkKeys(path, obj, "vault", "key"); err != nil {
		return nil, false, err
	}
	vault, err := r.requiredString(path+".vault", obj.Get("vault"))
	if err != nil {
		return nil, false, err
	}
	key, err := r.requiredString(path+".key", obj.Get("key"))
	if err != nil {
		return nil, false, err
	}
	return &manifest.SecretRef{Vault: vault, Key: key}, true, nil
}

// checkKeys rejects own enumerable keys outside allowed, so that a misspelt
// property such as "condtion" fails the load instead of being ignored.
func (r *definitionReader) checkKeys(path string, obj *goja.Object, allowed ...string) error {
	for _, k := range obj.Keys() {
		if !slices.Contains(allowed, k) {
			where := path
			if where == "" {
				where = "definition"
			}
			return r.fail(path, "unknown property %q in %s: use %s", k, where, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func (r *definitionReader) requiredObject(path string, value goja.Value) (*goja.Object, error) {
	obj, ok := value.(*goja.Object)
	if !ok || isFunction(value) || isArrayObject(obj) {
		return nil, r.fail(path, "is %s, expected an object", describe(value))
	}
	return obj, nil
}

func (r *definitionReader) requiredString(path string, value goja.Value) (string, error) {
	if !isString(value) {
		return "", r.fail(path, "is %s, expected a string", describe(value))
	}
	s := value.String()
	if s == "" {
		return "", r.fail(path, "is an empty string")
	}
	return s, nil
}

func (r *definitionReader) optionalString(path string, value goja.Value) (string, error) {
	if isAbsent(value) {
		return "", nil
	}
	if !isString(value) {
		return "", r.fail(path, "is %s, expected a string", describe(value))
	}
	return value.String(), nil
}

func (r *definitionReader) optionalBool(path string, value goja.Value) (bool, error) {
	if isAbsent(value) {
		return false, nil
	}
	b, ok := value.Export().(bool)
	if !ok {
		return false, r.fail(path, "is %s, expected a boolean", describe(value))
	}
	return b, nil
}

// isAbsent reports a missing property or one set to undefined or null.
func isAbsent(v goja.Value) bool {
	return v == nil || goja.IsUndefined(v) || goja.IsNull(v)
}

func isString(v goja.Value) bool {
	return v != nil && goja.IsString(v)
}

func isFunction(v goja.Value) bool {
	_, ok := goja.AssertFunction(v)
	return ok
}

func isArrayObject(obj *goja.Object) bool {
	return obj != nil && obj.ClassName() == "Array"
}

// describe names the JavaScript type of v for messages, as typeof would,
// but distinguishes null and arrays from objects.
func describe(v goja.Value) string {
	switch {
	case v == nil || goja.IsUndefined(v):
		return "undefined"
	case goja.IsNull(v):
		return "null"
	case isFunction(v):
		return "a function"
	case isString(v):
		return "a string"
	}
	if obj, ok := v.(*goja.Object); ok {
		if isArrayObject(obj) {
			return "an array"
		}
		return "an object"
	}
	if _, ok := v.(*goja.Symbol); ok {
		return "a symbol"
	}
	switch {
	case goja.IsBigInt(v):
		return "a bigint"
	case goja.IsNumber(v):
		return "a number"
	}
	if _, ok := v.Export().(bool); ok {
		return "a boolean"
	}
	return "a value of type " + v.ExportType().String()
}

// describeValue is describe plus the value itself for numbers and booleans,
// which carry no secrets in a definition.
func describeValue(v goja.Value) string {
	switch v.Export().(type) {
	case bool, int64, float64:
		return describe(v) + " (" + v.String() + ")"
	}
	return describe(v)
}
