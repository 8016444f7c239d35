package main

import (
	"github.com/dop251/goja"
)

// argumentsFactory turns the arguments JSON of one firing into the object
// passed to every callback of that firing.
type argumentsFactory struct {
	vm    *goja.Runtime
	parse goja.Callable
}

func newArgumentsFactory(vm *goja.Runtime) *argumentsFactory {
	parse, _ := goja.AssertFunction(vm.Get("JSON").(*goja.Object).Get("parse"))
	return &argumentsFactory{vm: vm, parse: parse}
}

func (f *argumentsFactory) value(raw []byte) (goja.Value, error) {
	return f.parse(goja.Undefined(), f.vm.ToValue(string(raw)))
}
