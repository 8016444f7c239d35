// Command hooks-and-schedules is a test plugin with one executor per
// non-record trigger kind: an incoming webhook that relays what it got,
// one that declares its own reply, one without a token, and a nightly
// schedule.
package main

import "github.com/execvault/execvault/plugins"

// nightlyCron is the cron spec of nightly-report. Tests build the plugin
// with another spec through -ldflags "-X main.nightlyCron=...".
var nightlyCron = "0 2 * * *"

func init() {
	_ = plugins.CreateExecutor(plugins.Definition{
		Name: "hook-relay",
		Trigger: plugins.IncomingWebhookTrigger(plugins.IncomingWebhookTriggerOptions{
			Token: &plugins.SecretRef{Vault: "hooks", Key: "relay-token"},
		}),
		Operation: plugins.Webhook{
			URL:     "https://relay.example.com/in",
			Headers: []plugins.Header{plugins.PlainHeader("Content-Type", "application/json")},
			RequestBody: func(a *plugins.Args, w *plugins.JSONWriter) error {
				w.BeginObject()
				w.StringField("method", a.Method())
				w.Field("body", a.Body())
				w.Field("contentType", a.Headers().Get("content-type"))
				w.StringField("rawBody", a.RawBody())
				w.EndObject()
				return nil
			},
		},
	})

	_ = plugins.CreateExecutor(plugins.Definition{
		Name: "hook-accepted",
		Trigger: plugins.IncomingWebhookTrigger(plugins.IncomingWebhookTriggerOptions{
			Token:    &plugins.SecretRef{Vault: "hooks", Key: "relay-token"},
			Response: &plugins.Response{Status: 202, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"queued":true}`},
		}),
		Operation: plugins.Webhook{URL: "https://relay.example.com/accepted"},
	})

	_ = plugins.CreateExecutor(plugins.Definition{
		Name: "hook-open",
		Trigger: plugins.IncomingWebhookTrigger(plugins.IncomingWebhookTriggerOptions{
			Response: &plugins.Response{Status: 200, Body: "open"},
		}),
		Operation: plugins.Webhook{URL: "https://relay.example.com/open"},
	})

	_ = plugins.CreateExecutor(plugins.Definition{
		Name:    "nightly-report",
		Trigger: plugins.ScheduleTrigger(plugins.ScheduleTriggerOptions{Cron: nightlyCron, Timezone: "Europe/Berlin"}),
		Operation: plugins.Webhook{
			URL: "https://relay.example.com/report",
			RequestBody: func(a *plugins.Args, w *plugins.JSONWriter) error {
				when, ok := a.ScheduledTime()
				w.BeginObject()
				w.BoolField("hasTime", ok && !when.IsZero())
				w.EndObject()
				return nil
			},
		},
	})
}

func main() {}
