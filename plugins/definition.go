package plugins

// Definition is one executor as a Go guest declares it: the platform's
// createExecutor argument, with the callbacks as Go functions. Register it
// with CreateExecutor from an init function.
type Definition struct {
	// Name identifies the executor: 3 to 63 lowercase letters, digits and
	// hyphens, no hyphen at either end, unique across every loaded plugin.
	Name string

	// Description is free text shown in listings. Optional.
	Description string

	// Disabled keeps the executor loaded but never fired. Default false.
	Disabled bool

	// Trigger is the event source that fires the executor. Build it with
	// RecordCreatedTrigger, RecordUpdatedTrigger, RecordDeletedTrigger,
	// RecordTrigger, ScheduleTrigger or IncomingWebhookTrigger.
	Trigger TriggerDefinition

	// Operation is the webhook the executor sends when it fires.
	Operation Webhook

	// Secrets lists the vault and key pairs that GetSecret may read while
	// this executor fires. Header secret references need no entry here:
	// the host resolves them without the guest seeing the values.
	Secrets []SecretRef

	// Limits override the host's call timeout, memory cap and result size
	// cap for this executor. Zero fields keep the host's defaults.
	Limits Limits

	// Retry overrides the delivery retry policy; nil keeps the host's.
	Retry *Retry

	// Signing turns on Standard Webhooks signatures; nil sends unsigned
	// requests.
	Signing *Signing
}

// TriggerDefinition is the event source of an executor, with its optional
// condition callback. The constructor functions fill it. The fields are
// exported so that a definition reads plainly in tests.
type TriggerDefinition struct {
	// Kind is TriggerRecord, TriggerSchedule or TriggerIncomingWebhook.
	Kind string

	// TypeName and Events apply to record triggers.
	TypeName string
	Events   []string

	// Condition, when set, runs before the operation and skips the firing
	// when it returns false. Without it every matching event fires. A
	// panic inside it fails the firing with the panic message.
	Condition func(*Args) bool

	// Cron and Timezone apply to schedule triggers: a five-field cron spec
	// and an IANA zone name, UTC when empty.
	Cron     string
	Timezone string

	// Token and Response apply to incoming webhook triggers: the secret
	// that the request path must carry, and the reply (204 when nil).
	Token    *SecretRef
	Response *Response
}

// RecordTriggerOptions configures a record trigger.
type RecordTriggerOptions struct {
	// Type is the record type name, such as "salesOrder".
	Type string

	// Condition is the optional filter; see TriggerDefinition.Condition.
	Condition func(*Args) bool
}

// RecordCreatedTrigger fires when a record of o.Type is created. Callbacks
// see NewRecord.
func RecordCreatedTrigger(o RecordTriggerOptions) TriggerDefinition {
	return RecordTrigger(o, EventCreated)
}

// RecordUpdatedTrigger fires when a record of o.Type is updated. Callbacks
// see NewRecord and OldRecord.
func RecordUpdatedTrigger(o RecordTriggerOptions) TriggerDefinition {
	return RecordTrigger(o, EventUpdated)
}

// RecordDeletedTrigger fires when a record of o.Type is deleted. Callbacks
// see OldRecord.
func RecordDeletedTrigger(o RecordTriggerOptions) TriggerDefinition {
	return RecordTrigger(o, EventDeleted)
}

// RecordTrigger fires on each of the given events (EventCreated,
// EventUpdated, EventDeleted) for records of o.Type. Callbacks can tell the
// events apart with Args.Event and Args.RawEvent.
func RecordTrigger(o RecordTriggerOptions, events ...string) TriggerDefinition {
	return TriggerDefinition{
		Kind:      TriggerRecord,
		TypeName:  o.Type,
		Events:    append([]string(nil), events...),
		Condition: o.Condition,
	}
}

// ScheduleTriggerOptions configures a schedule trigger.
type ScheduleTriggerOptions struct {
	// Cron is a five-field cron spec, such as "0 9 * * 1-5".
	Cron string

	// Timezone is an IANA zone name; UTC when empty.
	Timezone string
}

// ScheduleTrigger fires on a cron schedule. Callbacks see Env and
// ScheduledTime.
func ScheduleTrigger(o ScheduleTriggerOptions) TriggerDefinition {
	return TriggerDefinition{Kind: TriggerSchedule, Cron: o.Cron, Timezone: o.Timezone}
}

// IncomingWebhookTriggerOptions configures an incoming webhook trigger.
type IncomingWebhookTriggerOptions struct {
	// Token is the secret that the request path must carry. Optional:
	// without it, execvault run serves the trigger with no authentication,
	// and only while it listens on a loopback address.
	Token *SecretRef

	// Response is the reply sent to the caller; 204 with no body when nil.
	Response *Response
}

// IncomingWebhookTrigger fires on an HTTP request to the executor's URL.
// Callbacks see Body, Headers, Method, RawBody and Env.
func IncomingWebhookTrigger(o IncomingWebhookTriggerOptions) TriggerDefinition {
	return TriggerDefinition{Kind: TriggerIncomingWebhook, Token: o.Token, Response: o.Response}
}

// Webhook is the operation of an executor: a POST request.
type Webhook struct {
	// URL is the fixed destination, an http or https URL. Leave it empty
	// when URLFunc computes the URL.
	URL string

	// URLFunc computes the destination from the arguments on every firing.
	// Set either URL or URLFunc. A returned error or a panic fails the
	// firing.
	URLFunc func(*Args) (string, error)

	// Headers are sent in order. Build them with PlainHeader and
	// SecretHeader.
	Headers []Header

	// RequestBody writes the JSON body into w. Nil sends no body. A
	// returned error, a misuse of w or a panic fails the firing.
	RequestBody func(a *Args, w *JSONWriter) error
}

// PlainHeader returns a header with a literal value.
func PlainHeader(name, value string) Header {
	return Header{Name: name, Value: value}
}

// SecretHeader returns a header whose value the host reads from the secret
// key in vault when it sends the request, as { vault, key } does on the
// platform. The value never enters the guest.
func SecretHeader(name, vault, key string) Header {
	return Header{Name: name, Secret: &SecretRef{Vault: vault, Key: key}}
}

// manifestEntry converts d to the manifest form the host reads.
func (d *Definition) manifestEntry() Executor {
	t := d.Trigger
	op := d.Operation
	return Executor{
		Name:        d.Name,
		Description: d.Description,
		Disabled:    d.Disabled,
		Trigger: Trigger{
			Kind:      t.Kind,
			TypeName:  t.TypeName,
			Events:    t.Events,
			Condition: t.Condition != nil,
			Cron:      t.Cron,
			Timezone:  t.Timezone,
			Token:     t.Token,
			Response:  t.Response,
		},
		Operation: Operation{
			Kind:        OperationWebhook,
			URL:         op.URL,
			DynamicURL:  op.URLFunc != nil,
			Headers:     op.Headers,
			RequestBody: op.RequestBody != nil,
		},
		Secrets: d.Secrets,
		Limits:  d.Limits,
		Retry:   d.Retry,
		Signing: d.Signing,
	}
}
