package plugins

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestManifestJSONRoundTrip(t *testing.T) {
	audit := Definition{
		Name:     "audit-orders",
		Disabled: true,
		Trigger: RecordTrigger(RecordTriggerOptions{
			Type:      "order",
			Condition: func(*Args) bool { return true },
		}, EventCreated, EventUpdated),
		Operation: Webhook{
			URLFunc:     func(*Args) (string, error) { return "https://example.com/", nil },
			Headers:     []Header{SecretHeader("Authorization", "api-keys", "audit-token")},
			RequestBody: func(*Args, *JSONWriter) error { return nil },
		},
		Secrets: []SecretRef{{Vault: "api-keys", Key: "audit-salt"}},
		Limits:  Limits{TimeoutMillis: 250, MemoryPages: 64, MaxOutputBytes: 4096},
		Retry:   &Retry{MaxAttempts: 3},
		Signing: &Signing{Secret: SecretRef{Vault: "signing", Key: "audit"}},
	}
	nightly := Definition{
		Name:      "nightly-report",
		Trigger:   ScheduleTrigger(ScheduleTriggerOptions{Cron: "0 2 * * *"}),
		Operation: Webhook{URL: "https://reports.example.com/"},
	}
	registerForTest(t, crmDefinition(), audit, nightly)

	data, err := ManifestJSON()
	if err != nil {
		t.Fatalf("ManifestJSON: %v", err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		t.Fatalf("ParseManifest(ManifestJSON()): %v\n%s", err, data)
	}

	if m.ABIVersion != ABIVersion || m.SDK != SDKName {
		t.Errorf("abiVersion, sdk = %d, %q, want %d, %q", m.ABIVersion, m.SDK, ABIVersion, SDKName)
	}
	if got := len(m.Executors); got != 3 {
		t.Fatalf("executors = %d, want 3", got)
	}

	crm := m.Executors[0]
	wantCRM := Executor{
		Name:        "sync-to-external-crm",
		Description: "Sync sales orders to external CRM system",
		Trigger:     Trigger{Kind: TriggerRecord, TypeName: "salesOrder", Events: []string{EventCreated}, Condition: true},
		Operation: Operation{
			Kind: OperationWebhook,
			URL:  "https://crm.example.com/api/v1/orders",
			Headers: []Header{
				{Name: "Content-Type", Value: "application/json"},
				{Name: "Authorization", Secret: &SecretRef{Vault: "api-keys", Key: "crm-api-token"}},
				{Name: "X-API-Key", Secret: &SecretRef{Vault: "api-keys", Key: "crm-api-key"}},
			},
			RequestBody: true,
		},
	}
	if !reflect.DeepEqual(crm, wantCRM) {
		t.Errorf("executor 0 = %+v, want %+v", crm, wantCRM)
	}

	got := m.Executors[1]
	if !got.Disabled || !got.Operation.DynamicURL || got.Operation.URL != "" || !got.Trigger.Condition {
		t.Errorf("executor 1 disabled, dynamicUrl, url, condition = %v, %v, %q, %v, want true, true, \"\", true",
			got.Disabled, got.Operation.DynamicURL, got.Operation.URL, got.Trigger.Condition)
	}
	if want := []string{EventCreated, EventUpdated}; !reflect.DeepEqual(got.Trigger.Events, want) {
		t.Errorf("executor 1 events = %v, want %v", got.Trigger.Events, want)
	}
	if !reflect.DeepEqual(got.Secrets, audit.Secrets) || got.Limits != audit.Limits || *got.Retry != *audit.Retry || *got.Signing != *audit.Signing {
		t.Errorf("executor 1 secrets, limits, retry, signing = %v, %+v, %+v, %+v, want %v, %+v, %+v, %+v",
			got.Secrets, got.Limits, *got.Retry, *got.Signing, audit.Secrets, audit.Limits, *audit.Retry, *audit.Signing)
	}

	sched := m.Executors[2]
	if sched.Trigger.Kind != TriggerSchedule || sched.Trigger.Cron != "0 2 * * *" || sched.Trigger.Condition || sched.Operation.RequestBody {
		t.Errorf("executor 2 trigger = %+v, requestBody %v, want a schedule trigger without condition or body", sched.Trigger, sched.Operation.RequestBody)
	}

	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("manifest is not JSON: %v", err)
	}
}

func TestCreateExecutorRejects(t *testing.T) {
	valid := func() Definition {
		return Definition{
			Name:      "ok-name",
			Trigger:   RecordCreatedTrigger(RecordTriggerOptions{Type: "order"}),
			Operation: Webhook{URL: "https://example.com/"},
		}
	}
	tests := []struct {
		name   string
		modify func(d *Definition)
		want   string
	}{
		{"upper-case name", func(d *Definition) { d.Name = "Notify" }, `invalid executor name "Notify"`},
		{"short name", func(d *Definition) { d.Name = "ab" }, "invalid executor name"},
		{"no trigger", func(d *Definition) { d.Trigger = TriggerDefinition{} }, "trigger has no kind"},
		{"no type", func(d *Definition) { d.Trigger.TypeName = "" }, "no typeName"},
		{"unknown event", func(d *Definition) { d.Trigger = RecordTrigger(RecordTriggerOptions{Type: "t"}, "touched") }, `unknown record event "touched"`},
		{"schedule without cron", func(d *Definition) { d.Trigger = ScheduleTrigger(ScheduleTriggerOptions{}) }, "no cron spec"},
		{"no url", func(d *Definition) { d.Operation.URL = "" }, "webhook has no url"},
		{"both urls", func(d *Definition) {
			d.Operation.URLFunc = func(*Args) (string, error) { return "", nil }
		}, "both a fixed url and a computed one"},
		{"ftp url", func(d *Definition) { d.Operation.URL = "ftp://example.com/" }, "not an http or https URL"},
		{"bad header", func(d *Definition) { d.Operation.Headers = []Header{PlainHeader("Bad Name", "x")} }, `invalid header name "Bad Name"`},
		{"half secret reference", func(d *Definition) {
			d.Operation.Headers = []Header{SecretHeader("Authorization", "api-keys", "")}
		}, "malformed secret reference"},
		{"undeclarable secret", func(d *Definition) { d.Secrets = []SecretRef{{Vault: "v"}} }, "declared secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			registerForTest(t)
			d := valid()
			tc.modify(&d)
			err := CreateExecutor(d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CreateExecutor error = %v, want one containing %q", err, tc.want)
			}

			// The definition stays registered so the host reports it too.
			data, _ := ManifestJSON()
			if _, err := ParseManifest(data); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseManifest of the registered manifest = %v, want one containing %q", err, tc.want)
			}
		})
	}

	t.Run("duplicate name", func(t *testing.T) {
		registerForTest(t, valid())
		err := CreateExecutor(valid())
		if err == nil || !strings.Contains(err.Error(), `duplicate executor name "ok-name"`) {
			t.Fatalf("second CreateExecutor error = %v, want a duplicate name error", err)
		}
		data, _ := ManifestJSON()
		if _, err := ParseManifest(data); err == nil || !strings.Contains(err.Error(), "duplicate") {
			t.Errorf("ParseManifest = %v, want a duplicate name error", err)
		}
	})
}

func TestCreateExecutorCopiesSlices(t *testing.T) {
	headers := []Header{PlainHeader("X-A", "1"), SecretHeader("Authorization", "api-keys", "token")}
	retry := &Retry{MaxAttempts: 3}
	registerForTest(t, Definition{
		Name:      "copy-check",
		Trigger:   RecordCreatedTrigger(RecordTriggerOptions{Type: "t"}),
		Operation: Webhook{URL: "https://example.com/", Headers: headers},
		Retry:     retry,
	})
	headers[0] = PlainHeader("X-B", "2")
	headers[1].Secret.Key = "changed"
	retry.MaxAttempts = 9

	got := Definitions()[0]
	if name := got.Operation.Headers[0].Name; name != "X-A" {
		t.Errorf("registered header after caller's change = %q, want X-A", name)
	}
	if key := got.Operation.Headers[1].Secret.Key; key != "token" {
		t.Errorf("registered secret key after caller's change = %q, want token", key)
	}
	if n := got.Retry.MaxAttempts; n != 3 {
		t.Errorf("registered maxAttempts after caller's change = %d, want 3", n)
	}
}
