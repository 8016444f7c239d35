package main

import (
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

// directBody is a requestBody callback that only copies members of its
// arguments into an object literal, such as
//
//	({ newRecord }) => ({ orderId: newRecord.id, total: newRecord.totalPrice })
//
// The engine evaluates such a callback itself, reading the members from the
// lazy arguments and writing the JSON directly. That skips the call into
// goja, the value stack the call allocates and the object the literal
// builds. For sync-to-external-crm under Runtime.Fire it cut a firing from
// a median of 43.0 to 29.4 µs (BenchmarkWasmConditionAndBodyTS in package
// runtime, five runs on a 2-core AMD EPYC VM).
//
// Reading an own property of a lazy argument object runs no JavaScript and
// cannot throw, so the result and its JSON are the ones the callback would
// produce. Some firings break that, and the engine then calls the callback
// as usual: a member is missing, so the callback would read the prototype
// or throw a TypeError. Or a value on the way is not an unchanged JSON
// object of the arguments. Or Object.prototype has a toJSON.
type directBody struct {
	root *directObject
}

// directObject is one object literal of a directBody, possibly nested.
type directObject struct {
	// prefixes[i] is the i-th key as a JSON string followed by a colon.
	prefixes [][]byte
	values   []directValue
}

// directValue is one property value of a directObject: either a nested
// literal, or the member path read from the arguments object, such as
// ["newRecord", "id"] for newRecord.id under a destructured parameter.
type directValue struct {
	path  []string
	child *directObject
}

// directBodyOf returns the directBody of the function with source text
// src, or nil when the function does anything beyond copying members. The
// function must be a synchronous arrow function with one parameter, either
// a name or an object pattern of plain names, whose body is an object
// literal or a block holding only a return of one. Every value in the
// literal must be a parameter name, a chain of dotted member reads from
// one, or such a literal. Keys follow literalShape's rules, and a toJSON
// key rules the literal out.
func directBodyOf(src string) *directBody {
	fn, ok := parseFunctionSource(src).(*ast.ArrowFunctionLiteral)
	if !ok || fn.Async {
		return nil
	}
	bindings, ok := parameterBindings(fn.ParameterList)
	if !ok {
		return nil
	}

	var returned ast.Expression
	switch body := fn.Body.(type) {
	case *ast.ExpressionBody:
		returned = body.Expression
	case *ast.BlockStatement:
		if len(body.List) == 1 {
			returned = finalReturn(body)
		}
	}
	literal, ok := returned.(*ast.ObjectLiteral)
	if !ok {
		return nil
	}
	root := directLiteral(literal, bindings)
	if root == nil {
		return nil
	}
	return &directBody{root: root}
}

// parameterBindings maps each name a parameter list binds to its member
// path from the arguments object: nil for a parameter that is the whole
// object, [name] for a name destructured from it. ok is false for any
// other list, including defaults and rest elements.
func parameterBindings(params *ast.ParameterList) (map[string][]string, bool) {
	if params == nil || len(params.List) != 1 || params.Rest != nil || params.List[0].Initializer != nil {
		return nil, false
	}
	bindings := make(map[string][]string)
	switch target := params.List[0].Target.(type) {
	case *ast.Identifier:
		bindings[target.Name.String()] = nil
	case *ast.ObjectPattern:
		if target.Rest != nil {
			return nil, false
		}
		for _, prop := range target.Properties {
			short, ok := prop.(*ast.PropertyShort)
			if !ok || short.Initializer != nil {
				return nil, false
			}
			name := short.Name.Name.String()
			if _, dup := bindings[name]; dup {
				return nil, false
			}
			bindings[name] = []string{name}
		}
	default:
		return nil, false
	}
	return bindings, true
}

// directLiteral returns the directObject of literal, or nil when a key or
// a value rules it out.
func directLiteral(literal *ast.ObjectLiteral, bindings map[string][]string) *directObject {
	shape := literalShape(literal)
	if shape == nil {
		return nil
	}
	obj := &directObject{prefixes: shape.prefixes}
	for i, prop := range literal.Value {
		if shape.keys[i] == "toJSON" {
			return nil
		}
		var value ast.Expression
		switch p := prop.(type) {
		case *ast.PropertyShort:
			value = &p.Name
		case *ast.PropertyKeyed:
			value = p.Value
		default:
			return nil
		}

		if nested, ok := value.(*ast.ObjectLiteral); ok {
			child := directLiteral(nested, bindings)
			if child == nil {
				return nil
			}
			obj.values = append(obj.values, directValue{child: child})
			continue
		}
		path, ok := memberPath(value, bindings)
		if !ok || len(path) == 0 {
			return nil
		}
		obj.values = append(obj.values, directValue{path: path})
	}
	return obj
}

// memberPath returns the member path from the arguments object that expr
// reads, when expr is a parameter name or dotted member reads from one.
func memberPath(expr ast.Expression, bindings map[string][]string) ([]string, bool) {
	switch e := expr.(type) {
	case *ast.Identifier:
		base, ok := bindings[e.Name.String()]
		if !ok {
			return nil, false
		}
		return append([]string(nil), base...), true
	case *ast.DotExpression:
		path, ok := memberPath(e.Left, bindings)
		if !ok {
			return nil, false
		}
		return append(path, e.Identifier.Name.String()), true
	}
	return nil, false
}

// parseFunctionSource parses the source text of a function and returns
// the function expression, or nil when src does not parse as one
// expression.
func parseFunctionSource(src string) ast.Expression {
	program, err := parser.ParseFile(nil, "", "("+src+")", 0)
	if err != nil {
		// goja (v0.0.0-20260311) ends the source text of an arrow
		// function whose body is a parenthesised expression at the end
		// of that expression, without the closing parenthesis.
		program, err = parser.ParseFile(nil, "", "("+src+"))", 0)
	}
	if err != nil || len(program.Body) != 1 {
		return nil
	}
	stmt, ok := program.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return nil
	}
	return stmt.Expression
}

// serializeDirect appends the JSON of what body's callback returns for the
// arguments object args. done is false, with dst returned unchanged, when
// the callback must be called instead (see directBody). An exception that
// a value's toJSON method or getter throws while serialising becomes err.
func (w *jsonWriter) serializeDirect(dst []byte, args *lazyObject, body *directBody) (out []byte, done bool, err error) {
	if args == nil {
		return dst, false, nil
	}
	if ex := w.vm.Try(func() {
		// NOTE: a toJSON getter on Object.prototype runs here with
		// Object.prototype as this, and again when the callback's result
		// is serialised after the fallback call.
		if hasToJSON(w.objectPrototype) {
			out, done = dst, false
			return
		}
		out, done, err = w.appendDirect(dst, args, body.root, 0)
	}); ex != nil {
		return dst, false, ex
	}
	if !done {
		return dst, false, err
	}
	return out, true, err
}

func (w *jsonWriter) appendDirect(dst []byte, args *lazyObject, obj *directObject, depth int) (out []byte, done bool, err error) {
	start := len(dst)
	dst = append(dst, '{')
	first := true
	for i := range obj.values {
		mark := len(dst)
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, obj.prefixes[i]...)

		var written bool
		if child := obj.values[i].child; child != nil {
			dst, written, err = w.appendDirect(dst, args, child, depth+1)
			if !written && err == nil {
				return dst[:start], false, nil
			}
		} else {
			owner, field, ok := readPath(args, obj.values[i].path)
			if !ok {
				return dst[:start], false, nil
			}
			if text, ok := owner.rawJSON(field); ok {
				dst, written = append(dst, text...), true
			} else {
				if field.value == nil {
					owner.f.convertField(owner.raw, owner.members, field)
				}
				dst, written, err = w.appendJSON(dst, field.value, depth+1)
			}
		}
		if err != nil {
			return dst[:start], false, err
		}
		if !written {
			dst = dst[:mark]
			continue
		}
		first = false
	}
	return append(dst, '}'), true, nil
}

// readPath finds the member that path names in the arguments object and
// returns it with the lazy object that owns it. ok is false when a member
// is missing or a value before the last is not an unchanged JSON object of
// the arguments.
func readPath(args *lazyObject, path []string) (owner *lazyObject, field *lazyField, ok bool) {
	obj := args
	for i, key := range path {
		field, ok := obj.field(key)
		if !ok {
			return nil, nil, false
		}
		if i == len(path)-1 {
			return obj, field, true
		}
		if field.value == nil {
			obj.f.convertField(obj.raw, obj.members, field)
		}
		if field.object == nil {
			return nil, nil, false
		}
		obj = field.object
	}
	return nil, nil, false
}

// rawJSON returns the JSON text of a field that no callback has read or
// assigned, when that text is what JSON.stringify writes for its value.
// That holds for an ASCII string without escapes, an integer of at most 15
// digits other than -0, true, false and null. Serialising from the text
// skips converting the field, which allocates a goja value.
func (o *lazyObject) rawJSON(field *lazyField) ([]byte, bool) {
	// Only fields from the JSON have a nil value: Set stores undefined
	// for nil.
	if field.value != nil {
		return nil, false
	}
	text := o.raw[field.valStart:field.valEnd]
	switch text[0] {
	case '"':
		return text, field.flags&flagPlainString != 0
	case 't', 'f', 'n':
		return text, true
	case '{', '[':
		return nil, false
	}
	_, ok := smallInteger(text)
	return text, ok
}
