package main

import (
	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
)

// objectShape is the list of own keys of an object that an object literal
// creates, in the order JSON.stringify visits them. A requestBody callback
// whose result is always a fresh object literal has a shape, and
// serialising its result by the shape skips goja's key enumeration, which
// cost more than a third of a firing's allocations.
//
// A shape is only built for a literal whose keys are all known when the
// bundle loads. Keys must be ASCII names or strings, and neither array
// indexes (which JSON.stringify visits first), duplicates nor __proto__.
// Spread, computed keys, getters, setters and methods rule a literal out.
// The literal's own properties are then exactly its keys, all enumerable
// data properties, in source order.
type objectShape struct {
	keys []string
	// prefixes[i] is keys[i] as a JSON string followed by a colon.
	prefixes [][]byte
	// children[i] is the shape of keys[i]'s value when that value is
	// itself such an object literal, else nil.
	children []*objectShape
}

// maxShapeKeys bounds the literals that get a shape: a longer literal
// gains little from skipping enumeration.
const maxShapeKeys = 256

// returnedLiteralShape returns the shape of the object that the function
// with source text src always returns, or nil when it may return anything
// else. Only a synchronous arrow function or function expression counts,
// whose body is one object literal or a block of declarations ending in
// the only return statement, which returns one object literal.
func returnedLiteralShape(src string) *objectShape {
	var returned ast.Expression
	switch fn := parseFunctionSource(src).(type) {
	case *ast.ArrowFunctionLiteral:
		if fn.Async {
			return nil
		}
		switch body := fn.Body.(type) {
		case *ast.ExpressionBody:
			returned = body.Expression
		case *ast.BlockStatement:
			returned = finalReturn(body)
		}
	case *ast.FunctionLiteral:
		if fn.Async || fn.Generator {
			return nil
		}
		returned = finalReturn(fn.Body)
	}
	literal, ok := returned.(*ast.ObjectLiteral)
	if !ok {
		return nil
	}
	return literalShape(literal)
}

// finalReturn returns the argument of a block's last statement when every
// statement before it is a declaration, so the block returns that value
// or throws.
func finalReturn(block *ast.BlockStatement) ast.Expression {
	if block == nil || len(block.List) == 0 {
		return nil
	}
	last := len(block.List) - 1
	for _, s := range block.List[:last] {
		switch s.(type) {
		case *ast.VariableStatement, *ast.LexicalDeclaration:
		default:
			return nil
		}
	}
	ret, ok := block.List[last].(*ast.ReturnStatement)
	if !ok {
		return nil
	}
	return ret.Argument
}

// literalShape returns the shape of literal, or nil when it has none.
func literalShape(literal *ast.ObjectLiteral) *objectShape {
	if len(literal.Value) > maxShapeKeys {
		return nil
	}
	shape := &objectShape{}
	for _, prop := range literal.Value {
		var key string
		var value ast.Expression
		switch p := prop.(type) {
		case *ast.PropertyShort:
			if p.Initializer != nil {
				return nil
			}
			key = p.Name.Name.String()
		case *ast.PropertyKeyed:
			if p.Computed || p.Kind != ast.PropertyKindValue {
				return nil
			}
			s, ok := p.Key.(*ast.StringLiteral)
			if !ok {
				return nil
			}
			key = s.Value.String()
			value = p.Value
		default:
			return nil
		}
		if key == "__proto__" || !isASCII(key) || isArrayIndex(key) {
			return nil
		}
		for _, k := range shape.keys {
			if k == key {
				return nil
			}
		}

		var child *objectShape
		if nested, ok := value.(*ast.ObjectLiteral); ok {
			child = literalShape(nested)
		}
		shape.keys = append(shape.keys, key)
		shape.prefixes = append(shape.prefixes, append(appendQuoted(nil, key), ':'))
		shape.children = append(shape.children, child)
	}
	return shape
}

// functionSource returns the source text of a JavaScript function through
// Function.prototype.toString as it was before the bundle ran, so that a
// bundle that replaces toString cannot change what the shape is read from.
func (e *engine) functionSource(fn goja.Value) (string, bool) {
	if e.functionToString == nil {
		return "", false
	}
	var src string
	ok := false
	if ex := e.vm.Try(func() {
		v, err := e.functionToString(fn)
		if err == nil && goja.IsString(v) {
			src, ok = v.String(), true
		}
	}); ex != nil {
		return "", false
	}
	return src, ok
}
