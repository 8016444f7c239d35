package tsbuild

import (
	"context"
	"testing"
)

func BenchmarkExperiment(b *testing.B) {
	variants := map[string]string{
		"empty": `operation: { kind: "webhook", url: "https://x.example.com/" }`,
		"cond-true": `trigger: recordCreatedTrigger({ type: "t", condition: () => true }), operation: { kind: "webhook", url: "https://x.example.com/" }`,
		"cond-field": `trigger: recordCreatedTrigger({ type: "t", condition: ({ newRecord }) => (newRecord.totalPrice ?? 0) > 100000 }), operation: { kind: "webhook", url: "https://x.example.com/" }`,
		"body-const": `operation: { kind: "webhook", url: "https://x.example.com/", requestBody: () => ({ a: "x" }) }`,
		"body-crm": `operation: { kind: "webhook", url: "https://x.example.com/", requestBody: ({ newRecord }) => ({orderId: newRecord.id, customerId: newRecord.customerID, totalPrice: newRecord.totalPrice, status: newRecord.status, createdAt: newRecord.createdAt}) }`,
	}
	args := []byte(`{"workspaceId":"ws-1","appNamespace":"sales","typeName":"salesOrder","event":"created",` +
		`"rawEvent":"tailordb.type_record.created","env":{"stage":"dev"},"newRecord":{"id":"0f8e4c2a-1b3d-4e5f-8a9b-0c1d2e3f4a5b",` +
		`"customerID":"c-42","totalPrice":250000,"status":"confirmed","createdAt":"2024-05-06T07:08:09Z","lines":3}}`)
	for name, v := range variants {
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			src := `import { createExecutor, recordCreatedTrigger } from "@tailor-platform/sdk";
export default createExecutor({ name: "exp-x", `
			if !contains(v, "trigger:") {
				src += `trigger: recordCreatedTrigger({ type: "t" }), `
			}
			src += v + "});\n"
			writeFile(b, dir, "x.ts", src)
			g := loadGuest(b, dir)
			ctx := context.Background()
			for b.Loop() {
				if _, err := g.fireRaw(ctx, 0, args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
