package runtime

import (
	"strings"
	"testing"
)

func TestRewriteURL(t *testing.T) {
	crm := []URLRewrite{{From: "https://crm.example.com", To: "http://127.0.0.1:9000"}}
	tests := []struct {
		name     string
		url      string
		rewrites []URLRewrite
		want     string
	}{
		{"path after host", "https://crm.example.com/api/v1/orders", crm, "http://127.0.0.1:9000/api/v1/orders"},
		{"equal to from", "https://crm.example.com", crm, "http://127.0.0.1:9000"},
		{"query after host", "https://crm.example.com?id=1", crm, "http://127.0.0.1:9000?id=1"},
		{"fragment after host", "https://crm.example.com#top", crm, "http://127.0.0.1:9000#top"},
		{"longer host name", "https://crm.example.com.evil.test/x", crm, "https://crm.example.com.evil.test/x"},
		{"port after host", "https://crm.example.com:8443/x", crm, "https://crm.example.com:8443/x"},
		{
			"from is a shorter host name",
			"https://crm.example.com/api/v1/orders",
			[]URLRewrite{{From: "https://crm.example.co", To: "http://127.0.0.1:9000"}},
			"https://crm.example.com/api/v1/orders",
		},
		{
			"from ends with slash",
			"https://crm.example.com/api/v1/orders",
			[]URLRewrite{{From: "https://crm.example.com/api/", To: "http://127.0.0.1:9000/"}},
			"http://127.0.0.1:9000/v1/orders",
		},
		{
			"from ends with slash, to does not",
			"https://crm.example.com/api/v1/orders",
			[]URLRewrite{{From: "https://crm.example.com/", To: "http://127.0.0.1:9000"}},
			"http://127.0.0.1:9000/api/v1/orders",
		},
		{
			"to ends with slash, from does not",
			"https://crm.example.com/api/v1/orders",
			[]URLRewrite{{From: "https://crm.example.com", To: "http://127.0.0.1:9000/"}},
			"http://127.0.0.1:9000/api/v1/orders",
		},
		{
			"to ends with slash, query after host",
			"https://crm.example.com?id=1",
			[]URLRewrite{{From: "https://crm.example.com", To: "http://127.0.0.1:9000/"}},
			"http://127.0.0.1:9000/?id=1",
		},
		{
			"from ends with slash, query after it",
			"https://crm.example.com/?id=1",
			[]URLRewrite{{From: "https://crm.example.com/", To: "http://127.0.0.1:9000"}},
			"http://127.0.0.1:9000/?id=1",
		},
		{
			"path segment boundary",
			"https://crm.example.com/api/v10/orders",
			[]URLRewrite{{From: "https://crm.example.com/api/v1", To: "http://127.0.0.1:9000"}},
			"https://crm.example.com/api/v10/orders",
		},
		{
			"first match wins",
			"https://crm.example.com/a",
			[]URLRewrite{{From: "https://crm.example.com", To: "http://127.0.0.1:1"}, {From: "https://", To: "http://127.0.0.1:2/"}},
			"http://127.0.0.1:1/a",
		},
		{"host in other case", "https://CRM.Example.com/api/v1/orders", crm, "http://127.0.0.1:9000/api/v1/orders"},
		{"scheme in other case", "HTTPS://crm.example.com/a", crm, "http://127.0.0.1:9000/a"},
		{
			"from in other case",
			"https://crm.example.com/a",
			[]URLRewrite{{From: "https://CRM.example.COM", To: "http://127.0.0.1:9000"}},
			"http://127.0.0.1:9000/a",
		},
		{
			"path in other case",
			"https://crm.example.com/API/v1/orders",
			[]URLRewrite{{From: "https://crm.example.com/api", To: "http://127.0.0.1:9000"}},
			"https://crm.example.com/API/v1/orders",
		},
		{"no rewrites", "https://crm.example.com/a", nil, "https://crm.example.com/a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rewriteURL(tt.url, tt.rewrites); got != tt.want {
				t.Errorf("rewriteURL(%q) = %q, want %q", tt.url, got, tt.want)
			}
		})
	}
}

func FuzzRewriteURL(f *testing.F) {
	f.Add("https://crm.example.com/api/v1/orders", "https://crm.example.com", "http://127.0.0.1:9000")
	f.Add("https://crm.example.com/api/v1/orders", "https://crm.example.co", "http://127.0.0.1:9000")
	f.Add("https://crm.example.com?x=1", "https://crm.example.com", "http://[::1]:9000/")
	f.Add("https://api.example.com", "https://", "http://127.0.0.1:9000/https/")
	f.Fuzz(func(t *testing.T, url, from, to string) {
		rw := URLRewrite{From: from, To: to}
		got := rewriteURL(url, []URLRewrite{rw})
		if !rw.Matches(url) {
			if got != url {
				t.Errorf("rewriteURL(%q) with unmatched From %q = %q, want the URL unchanged", url, from, got)
			}
			return
		}
		rest := url[len(from):]
		want := to + rest
		if rest != "" && (strings.HasSuffix(from, "/") || strings.HasSuffix(to, "/") || rest[0] == '/') {
			// Exactly one slash between To and the rest of the URL.
			want = strings.TrimSuffix(to, "/") + "/" + strings.TrimPrefix(rest, "/")
		}
		if got != want {
			t.Errorf("rewriteURL(%q) with From %q and To %q = %q, want %q", url, from, to, got, want)
		}
		if rest != "" && !strings.HasSuffix(from, "/") && !strings.ContainsRune("/?#", rune(rest[0])) {
			t.Errorf("From %q matched %q inside a host or path segment", from, url)
		}
	})
}
