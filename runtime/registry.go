package runtime

import (
	"fmt"
	"sort"

	"github.com/execvault/execvault/plugins"
)

// registry is an immutable view of every loaded plugin and executor. The
// runtime swaps a new registry in atomically on reload, so a firing uses
// either the old set or the new one, never a mix.
type registry struct {
	plugins map[string]*plugin // by file path
	byName  map[string]*Executor
	// byType lists, per record type name, the enabled executors with a
	// record trigger on it, in name order.
	byType map[string][]*Executor
	names  []string
}

// buildRegistry indexes kept plugins, then fresh ones. A fresh plugin
// that declares a name already taken is rejected, and the previous version
// of its file, if any and if it clashes with nothing, stays instead.
func buildRegistry(kept, fresh []*plugin, previous map[string]*plugin) (reg *registry, rejected []*plugin, errs []error) {
	r := &registry{
		plugins: make(map[string]*plugin),
		byName:  make(map[string]*Executor),
		byType:  make(map[string][]*Executor),
	}
	add := func(p *plugin) error {
		for _, e := range p.executors {
			if prev, dup := r.byName[e.Name]; dup {
				return &PluginError{File: p.file, Err: fmt.Errorf("duplicate executor name %q: %s declares it too", e.Name, prev.File)}
			}
		}
		r.plugins[p.file] = p
		for _, e := range p.executors {
			r.byName[e.Name] = e
		}
		return nil
	}

	for _, p := range kept {
		if err := add(p); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range fresh {
		if err := add(p); err != nil {
			errs = append(errs, err)
			rejected = append(rejected, p)
			if old, ok := previous[p.file]; ok {
				_ = add(old)
			}
		}
	}

	for _, e := range r.byName {
		r.names = append(r.names, e.Name)
		if !e.Disabled && e.Trigger.Kind == plugins.TriggerRecord {
			r.byType[e.Trigger.TypeName] = append(r.byType[e.Trigger.TypeName], e)
		}
	}
	sort.Strings(r.names)
	for _, list := range r.byType {
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	return r, rejected, errs
}

// match returns the executors that fire for an event kind ("created",
// "updated" or "deleted") on a type.
func (r *registry) match(typeName, kind string) []*Executor {
	var out []*Executor
	for _, e := range r.byType[typeName] {
		for _, ev := range e.Trigger.Events {
			if ev == kind {
				out = append(out, e)
				break
			}
		}
	}
	return out
}
