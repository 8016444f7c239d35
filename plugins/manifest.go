package plugins

import "github.com/execvault/execvault/plugins/manifest"

// The manifest types live in package manifest so that guests which cannot
// link the SDK's exports, such as the JavaScript engine, share them. These
// aliases keep them at hand for SDK users and the host.
type (
	// Manifest describes every executor a plugin module contains.
	Manifest = manifest.Manifest
	// Executor is one executor definition in the form the host reads.
	Executor = manifest.Executor
	// Trigger is what makes an executor fire.
	Trigger = manifest.Trigger
	// Response is the reply of an incoming webhook trigger.
	Response = manifest.Response
	// Operation is what an executor does when it fires.
	Operation = manifest.Operation
	// Header is one webhook header.
	Header = manifest.Header
	// SecretRef names a secret by vault and key.
	SecretRef = manifest.SecretRef
	// Limits override the host's per-executor defaults.
	Limits = manifest.Limits
	// Retry overrides the delivery retry policy.
	Retry = manifest.Retry
	// Signing turns on Standard Webhooks signatures.
	Signing = manifest.Signing
	// ABIVersionError reports an ABI version this build does not support.
	ABIVersionError = manifest.ABIVersionError
)

// ABIVersion is the plugin ABI version that this SDK speaks.
const ABIVersion = manifest.ABIVersion

// Trigger kinds, record events and operation kinds; see package manifest.
const (
	TriggerRecord          = manifest.TriggerRecord
	TriggerSchedule        = manifest.TriggerSchedule
	TriggerIncomingWebhook = manifest.TriggerIncomingWebhook

	EventCreated = manifest.EventCreated
	EventUpdated = manifest.EventUpdated
	EventDeleted = manifest.EventDeleted

	OperationWebhook = manifest.OperationWebhook
)

// SupportedABIVersions lists every ABI version the host accepts.
var SupportedABIVersions = manifest.SupportedABIVersions

// ValidExecutorName reports whether name follows the executor name rule.
func ValidExecutorName(name string) bool { return manifest.ValidExecutorName(name) }

// ParseManifest decodes and validates a manifest.
func ParseManifest(data []byte) (*Manifest, error) { return manifest.ParseManifest(data) }
