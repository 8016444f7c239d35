package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ABIVersion is the plugin ABI version that this SDK speaks and that a
// manifest built with it declares. docs/plugin-abi.md defines it.
const ABIVersion = 1

// SupportedABIVersions lists every ABI version the host accepts, oldest first.
var SupportedABIVersions = []int{1}

// Trigger kinds that a manifest may declare.
const (
	TriggerRecord          = "record"
	TriggerSchedule        = "schedule"
	TriggerIncomingWebhook = "incomingWebhook"
)

// Record event names used in a record trigger's Events list.
const (
	EventCreated = "created"
	EventUpdated = "updated"
	EventDeleted = "deleted"
)

// OperationWebhook is the only operation kind of ABI version 1.
const OperationWebhook = "webhook"

// Manifest describes every executor a plugin module contains. The guest
// returns it as JSON from the execvault_manifest export.
type Manifest struct {
	ABIVersion int        `json:"abiVersion"`
	SDK        string     `json:"sdk,omitempty"`
	Executors  []Executor `json:"executors"`
}

// Executor is one executor definition in the form the host reads: everything
// except the callbacks, which stay inside the guest and are reached through
// execvault_fire by the executor's index in Manifest.Executors.
type Executor struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Disabled    bool        `json:"disabled,omitempty"`
	Trigger     Trigger     `json:"trigger"`
	Operation   Operation   `json:"operation"`
	Secrets     []SecretRef `json:"secrets,omitempty"`
	Limits      Limits      `json:"limits,omitempty"`
	Retry       *Retry      `json:"retry,omitempty"`
	Signing     *Signing    `json:"signing,omitempty"`
}

// Trigger is the event source of an executor: record events on a type, a
// schedule, or incoming webhook requests.
type Trigger struct {
	// Kind is TriggerRecord, TriggerSchedule or TriggerIncomingWebhook.
	Kind string `json:"kind"`

	// TypeName and Events apply to record triggers. Events holds one or
	// more of EventCreated, EventUpdated and EventDeleted.
	TypeName string   `json:"typeName,omitempty"`
	Events   []string `json:"events,omitempty"`

	// Condition reports whether the guest defines a condition callback.
	// Without one, every matching event fires.
	Condition bool `json:"condition,omitempty"`

	// Cron and Timezone apply to schedule triggers: a five-field cron spec
	// and an IANA zone name, UTC when empty.
	Cron     string `json:"cron,omitempty"`
	Timezone string `json:"timezone,omitempty"`

	// Token and Response apply to incoming webhook triggers. Token names
	// the secret that the request path must carry.
	Token    *SecretRef `json:"token,omitempty"`
	Response *Response  `json:"response,omitempty"`
}

// Response is the reply an incoming webhook trigger sends; 204 with no body
// when absent.
type Response struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// Operation is the action an executor takes when it fires.
type Operation struct {
	// Kind is OperationWebhook.
	Kind string `json:"kind"`

	// URL is the fixed destination. When DynamicURL is true the guest
	// computes the URL on every firing and URL is empty.
	URL        string `json:"url,omitempty"`
	DynamicURL bool   `json:"dynamicUrl,omitempty"`

	// Headers are sent in order. Each has either a plain Value or a Secret
	// reference that the host resolves at dispatch.
	Headers []Header `json:"headers,omitempty"`

	// RequestBody reports whether the guest computes a JSON body.
	RequestBody bool `json:"requestBody,omitempty"`
}

// Header is one webhook header.
type Header struct {
	Name   string     `json:"name"`
	Value  string     `json:"value,omitempty"`
	Secret *SecretRef `json:"secret,omitempty"`
}

// SecretRef names a secret by vault and key, as the platform writes
// { vault, key } in a header.
type SecretRef struct {
	Vault string `json:"vault"`
	Key   string `json:"key"`
}

// String returns "vault/key", which is how messages name a secret.
func (r SecretRef) String() string { return r.Vault + "/" + r.Key }

// Limits override the host's per-executor defaults. Zero means the default.
type Limits struct {
	TimeoutMillis  int `json:"timeoutMs,omitempty"`
	MemoryPages    int `json:"memoryPages,omitempty"`
	MaxOutputBytes int `json:"maxOutputBytes,omitempty"`
}

// Retry overrides the delivery retry policy. Zero fields take the defaults:
// 10 attempts in all and 60 s per attempt.
type Retry struct {
	MaxAttempts          int `json:"maxAttempts,omitempty"`
	AttemptTimeoutMillis int `json:"attemptTimeoutMs,omitempty"`
}

// Signing turns on Standard Webhooks signatures with a key kept in a vault.
type Signing struct {
	Secret SecretRef `json:"secret"`
}

// namePattern is the platform's rule for executor names: 3 to 63 characters
// of lowercase letters, digits and hyphens, with no hyphen at either end.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

// ValidExecutorName reports whether name follows the executor name rule.
func ValidExecutorName(name string) bool { return namePattern.MatchString(name) }

// ParseManifest decodes and validates a manifest. Unknown fields are
// rejected so that a typo in a hand-written manifest is not silently ignored.
func ParseManifest(data []byte) (*Manifest, error) {
	var probe struct {
		ABIVersion *int `json:"abiVersion"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("manifest is not valid JSON: %w", err)
	}
	if probe.ABIVersion == nil {
		return nil, errors.New("manifest has no abiVersion")
	}
	if !supportedABI(*probe.ABIVersion) {
		return nil, &ABIVersionError{Version: *probe.ABIVersion}
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ABIVersionError reports a manifest whose ABI version this build does not
// support.
type ABIVersionError struct {
	Version int
}

func (e *ABIVersionError) Error() string {
	versions := make([]string, len(SupportedABIVersions))
	for i, v := range SupportedABIVersions {
		versions[i] = fmt.Sprint(v)
	}
	return fmt.Sprintf("unsupported plugin ABI version %d: this build supports %s; rebuild the plugin with a matching SDK",
		e.Version, strings.Join(versions, ", "))
}

func supportedABI(v int) bool {
	for _, s := range SupportedABIVersions {
		if s == v {
			return true
		}
	}
	return false
}

// Validate checks every executor and reports the first problem, naming the
// executor and the field.
func (m *Manifest) Validate() error {
	if !supportedABI(m.ABIVersion) {
		return &ABIVersionError{Version: m.ABIVersion}
	}
	if len(m.Executors) == 0 {
		return errors.New("manifest declares no executors")
	}
	seen := make(map[string]bool, len(m.Executors))
	for i := range m.Executors {
		e := &m.Executors[i]
		if err := e.Validate(); err != nil {
			return err
		}
		if seen[e.Name] {
			return fmt.Errorf("duplicate executor name %q", e.Name)
		}
		seen[e.Name] = true
	}
	return nil
}

// Validate checks one executor definition.
func (e *Executor) Validate() error {
	if !ValidExecutorName(e.Name) {
		return fmt.Errorf("invalid executor name %q: use 3 to 63 lowercase letters, digits and hyphens, with no hyphen at either end", e.Name)
	}
	if err := e.Trigger.validate(); err != nil {
		return fmt.Errorf("executor %q: %w", e.Name, err)
	}
	if err := e.Operation.validate(); err != nil {
		return fmt.Errorf("executor %q: %w", e.Name, err)
	}
	for _, ref := range e.Secrets {
		if err := ref.Validate(); err != nil {
			return fmt.Errorf("executor %q: declared secret: %w", e.Name, err)
		}
	}
	if e.Limits.TimeoutMillis < 0 || e.Limits.MemoryPages < 0 || e.Limits.MaxOutputBytes < 0 {
		return fmt.Errorf("executor %q: limits must not be negative", e.Name)
	}
	if e.Limits.MemoryPages > 65536 {
		return fmt.Errorf("executor %q: memoryPages %d exceeds the 65536 pages (4 GiB) of 32-bit Wasm memory", e.Name, e.Limits.MemoryPages)
	}
	if e.Retry != nil && (e.Retry.MaxAttempts < 0 || e.Retry.AttemptTimeoutMillis < 0) {
		return fmt.Errorf("executor %q: retry settings must not be negative", e.Name)
	}
	if e.Signing != nil {
		if err := e.Signing.Secret.Validate(); err != nil {
			return fmt.Errorf("executor %q: signing secret: %w", e.Name, err)
		}
	}
	return nil
}

func (t *Trigger) validate() error {
	switch t.Kind {
	case TriggerRecord:
		if t.TypeName == "" {
			return errors.New("record trigger has no typeName")
		}
		if len(t.Events) == 0 {
			return errors.New("record trigger has no events: use created, updated or deleted")
		}
		for _, ev := range t.Events {
			switch ev {
			case EventCreated, EventUpdated, EventDeleted:
			default:
				return fmt.Errorf("unknown record event %q: use created, updated or deleted", ev)
			}
		}
	case TriggerSchedule:
		if t.Cron == "" {
			return errors.New("schedule trigger has no cron spec")
		}
	case TriggerIncomingWebhook:
		if t.Token != nil {
			if err := t.Token.Validate(); err != nil {
				return fmt.Errorf("incoming webhook token: %w", err)
			}
		}
		if t.Response != nil && (t.Response.Status < 200 || t.Response.Status > 599) {
			return fmt.Errorf("incoming webhook response status %d is not an HTTP status", t.Response.Status)
		}
	case "":
		return errors.New("trigger has no kind")
	default:
		return fmt.Errorf("unknown trigger kind %q: use %s, %s or %s", t.Kind, TriggerRecord, TriggerSchedule, TriggerIncomingWebhook)
	}
	return nil
}

func (o *Operation) validate() error {
	switch o.Kind {
	case OperationWebhook:
	case "":
		return errors.New("operation has no kind")
	default:
		return fmt.Errorf("unknown operation kind %q: this build supports %s", o.Kind, OperationWebhook)
	}
	if o.URL == "" && !o.DynamicURL {
		return errors.New("webhook has no url")
	}
	if o.URL != "" && o.DynamicURL {
		return errors.New("webhook has both a fixed url and a computed one")
	}
	if o.URL != "" && !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
		return fmt.Errorf("webhook url %q is not an http or https URL", o.URL)
	}
	for _, h := range o.Headers {
		if h.Name == "" || strings.ContainsAny(h.Name, " \t\r\n:") {
			return fmt.Errorf("invalid header name %q", h.Name)
		}
		if h.Secret != nil {
			if h.Value != "" {
				return fmt.Errorf("header %q has both a value and a secret reference", h.Name)
			}
			if err := h.Secret.Validate(); err != nil {
				return fmt.Errorf("header %q: %w", h.Name, err)
			}
		} else if strings.ContainsAny(h.Value, "\r\n\x00") {
			return fmt.Errorf("header %q value contains CR, LF or NUL", h.Name)
		}
	}
	return nil
}

// Validate checks that both parts of a secret reference are present. The
// secret store applies its own name rule when the reference is resolved.
func (r SecretRef) Validate() error {
	if r.Vault == "" || r.Key == "" {
		return fmt.Errorf("malformed secret reference {vault: %q, key: %q}: both vault and key are required", r.Vault, r.Key)
	}
	return nil
}
