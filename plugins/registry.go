package plugins

import (
	"encoding/json"
	"fmt"
	"maps"
)

// SDKName is the value of the manifest's sdk field for modules built with
// this package.
const SDKName = "execvault-go/1"

// registry holds the definitions of this module in registration order,
// which is the order of the manifest's executors array and therefore the
// executor index that execvault_fire receives.
var registry struct {
	defs     []Definition
	manifest []byte // cached JSON, cleared on every registration
}

// CreateExecutor registers d as the next executor of this module and
// returns the first problem with it: an invalid name, trigger, operation or
// secret reference, or a name registered before. Call it from an init
// function; registration is not safe for concurrent use and must finish
// before the first firing.
//
// An invalid definition is still registered, so that its manifest reaches
// the host, which rejects the whole module with the same message when it
// loads it. Ignoring the returned error therefore never hides a mistake.
func CreateExecutor(d Definition) error {
	d = d.clone()

	for i := range registry.defs {
		if registry.defs[i].Name == d.Name {
			registry.defs = append(registry.defs, d)
			registry.manifest = nil
			return fmt.Errorf("create executor: duplicate executor name %q: names must be unique within a module and across loaded plugins", d.Name)
		}
	}
	registry.defs = append(registry.defs, d)
	registry.manifest = nil

	entry := d.manifestEntry()
	if err := entry.Validate(); err != nil {
		return fmt.Errorf("create executor: %w", err)
	}
	return nil
}

// clone copies every slice and pointer of d, so that a caller changing its
// definition after registration cannot change the manifest.
func (d Definition) clone() Definition {
	d.Trigger.Events = append([]string(nil), d.Trigger.Events...)
	d.Trigger.Token = clonePtr(d.Trigger.Token)
	if r := d.Trigger.Response; r != nil {
		c := *r
		c.Headers = maps.Clone(r.Headers)
		d.Trigger.Response = &c
	}
	d.Operation.Headers = append([]Header(nil), d.Operation.Headers...)
	for i := range d.Operation.Headers {
		d.Operation.Headers[i].Secret = clonePtr(d.Operation.Headers[i].Secret)
	}
	d.Secrets = append([]SecretRef(nil), d.Secrets...)
	d.Retry = clonePtr(d.Retry)
	d.Signing = clonePtr(d.Signing)
	return d
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

// Definitions returns a copy of the registered definitions in registration
// order.
func Definitions() []Definition {
	return append([]Definition(nil), registry.defs...)
}

// BuildManifest returns the manifest of every registered executor, the
// value that the execvault_manifest export returns as JSON. It does not
// validate; call Manifest.Validate for that.
func BuildManifest() *Manifest {
	m := &Manifest{
		ABIVersion: ABIVersion,
		SDK:        SDKName,
		Executors:  make([]Executor, len(registry.defs)),
	}
	for i := range registry.defs {
		m.Executors[i] = registry.defs[i].manifestEntry()
	}
	return m
}

// ManifestJSON returns the manifest as JSON. The result is cached until the
// next registration and must not be modified. It returns an error only if
// encoding/json fails, which strings, integers and booleans do not cause.
func ManifestJSON() ([]byte, error) {
	if registry.manifest != nil {
		return registry.manifest, nil
	}
	data, err := json.Marshal(BuildManifest())
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	registry.manifest = data
	return data, nil
}

// resetRegistry drops every definition. Tests use it to start clean.
func resetRegistry() {
	registry.defs = nil
	registry.manifest = nil
}
