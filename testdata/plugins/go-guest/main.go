// Command go-guest is a test plugin built with the Go SDK that exercises the
// guest side of the ABI inside Wasm: panic recovery, secret reads through
// the secret_get import, logging through the log import, the host clock and
// computed URLs. It is built by the plugins package tests, not shipped.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o go-guest.wasm ./testdata/plugins/go-guest
package main

import (
	"errors"
	"strconv"

	"github.com/execvault/execvault/plugins"
)

var onCreate = plugins.RecordCreatedTrigger(plugins.RecordTriggerOptions{Type: "order"})

func init() {
	// Executor 0 panics with a runtime error inside the body callback.
	_ = plugins.CreateExecutor(plugins.Definition{
		Name:    "test-go-panic",
		Trigger: onCreate,
		Operation: plugins.Webhook{
			URL: "http://127.0.0.1:9/unused",
			RequestBody: func(a *plugins.Args, w *plugins.JSONWriter) error {
				var counts map[string]int
				counts["orders"]++ // assignment to a nil map panics
				return nil
			},
		},
	})

	// Executor 1 reads a declared secret and reports only its length, so
	// tests can check the value arrived without the value leaving the guest.
	_ = plugins.CreateExecutor(plugins.Definition{
		Name:    "test-go-secret",
		Trigger: onCreate,
		Secrets: []plugins.SecretRef{{Vault: "api-keys", Key: "declared"}},
		Operation: plugins.Webhook{
			URL: "http://127.0.0.1:9/unused",
			RequestBody: func(a *plugins.Args, w *plugins.JSONWriter) error {
				key, _ := a.NewRecord().String("secretKey")
				s, err := plugins.GetSecret("api-keys", key)
				if err != nil {
					return err
				}
				w.BeginObject()
				w.IntField("length", int64(len(s.Reveal())))
				w.EndObject()
				return nil
			},
		},
	})

	// Executor 2 logs at every level, reads the host clock and computes
	// its URL from the arguments.
	_ = plugins.CreateExecutor(plugins.Definition{
		Name:    "test-go-log-url",
		Trigger: onCreate,
		Operation: plugins.Webhook{
			URLFunc: func(a *plugins.Args) (string, error) {
				base, ok := a.Env().String("base")
				if !ok {
					return "", errors.New("env.base is missing")
				}
				id, _ := a.NewRecord().String("id")
				return base + "/orders/" + id, nil
			},
			RequestBody: func(a *plugins.Args, w *plugins.JSONWriter) error {
				log := plugins.Logger().With("component", "test-go-log-url")
				log.Debug("building body", "order_id", a.NewRecord().Get("id").Raw())
				log.Info("clock read", "unix_ns", strconv.FormatInt(plugins.Now().UnixNano(), 10))
				log.Warn("slow path")
				log.Error("failed once")
				w.BeginObject()
				w.IntField("now", plugins.Now().UnixNano())
				w.EndObject()
				return nil
			},
		},
	})
}

func main() {}
