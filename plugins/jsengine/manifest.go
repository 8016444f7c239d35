package main

// The manifest types below mirror the JSON form that package plugins
// defines and validates. The engine cannot import that package, because its
// wasip1 build exports the Go SDK's own execvault_* functions, which would
// clash with the engine's exports at link time.

// abiVersion is the plugin ABI version the engine implements.
const abiVersion = 1

// sdkName identifies the engine in the manifest's sdk field.
const sdkName = "execvault-js/1"

type manifest struct {
	ABIVersion int                  `json:"abiVersion"`
	SDK        string               `json:"sdk"`
	Executors  []manifestDefinition `json:"executors"`
}

type manifestDefinition struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Disabled    bool              `json:"disabled,omitempty"`
	Trigger     manifestTrigger   `json:"trigger"`
	Operation   manifestOperation `json:"operation"`
}

type manifestTrigger struct {
	Kind      string           `json:"kind"`
	TypeName  string           `json:"typeName,omitempty"`
	Events    []string         `json:"events,omitempty"`
	Condition bool             `json:"condition,omitempty"`
	Cron      string           `json:"cron,omitempty"`
	Timezone  string           `json:"timezone,omitempty"`
	Token     *secretRef       `json:"token,omitempty"`
	Response  *webhookResponse `json:"response,omitempty"`
}

type webhookResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

type manifestOperation struct {
	Kind        string           `json:"kind"`
	URL         string           `json:"url,omitempty"`
	DynamicURL  bool             `json:"dynamicUrl,omitempty"`
	Headers     []manifestHeader `json:"headers,omitempty"`
	RequestBody bool             `json:"requestBody,omitempty"`
}

type manifestHeader struct {
	Name   string     `json:"name"`
	Value  string     `json:"value,omitempty"`
	Secret *secretRef `json:"secret,omitempty"`
}

type secretRef struct {
	Vault string `json:"vault"`
	Key   string `json:"key"`
}
