package triggers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAppendWebhookArgs(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		headers     map[string][]string
		env         json.RawMessage
		want        string
	}{
		{
			name: "json body", method: http.MethodPost, contentType: "application/json",
			body: `{"amount": 12.50, "tags":["a"]}`,
			want: `{"body":{"amount": 12.50, "tags":["a"]},"headers":{"content-type":"application/json","host":"example.test"},"method":"POST","rawBody":"{\"amount\": 12.50, \"tags\":[\"a\"]}","env":{}}`,
		},
		{
			name: "vendor json type", method: http.MethodPut, contentType: "application/vnd.api+json; charset=utf-8",
			body: ` [1,2] `,
			want: `{"body":[1,2],"headers":{"content-type":"application/vnd.api+json; charset=utf-8","host":"example.test"},"method":"PUT","rawBody":" [1,2] ","env":{}}`,
		},
		{
			name: "form with repeated keys", method: http.MethodPost, contentType: "application/x-www-form-urlencoded",
			body: "name=Jane+Doe&tag=a&tag=b&empty=",
			want: `{"body":{"empty":"","name":"Jane Doe","tag":["a","b"]},"headers":{"content-type":"application/x-www-form-urlencoded","host":"example.test"},"method":"POST","rawBody":"name=Jane+Doe\u0026tag=a\u0026tag=b\u0026empty=","env":{}}`,
		},
		{
			name: "get without body", method: http.MethodGet,
			headers: map[string][]string{"X-Trace-Id": {"t1"}, "Accept": {"a/b", "c/d"}},
			env:     json.RawMessage(`{"stage":"dev"}`),
			want:    `{"body":null,"headers":{"accept":"a/b, c/d","host":"example.test","x-trace-id":"t1"},"method":"GET","rawBody":"","env":{"stage":"dev"}}`,
		},
		{
			name: "text body that is json", method: http.MethodPost, contentType: "text/plain",
			body: `{"ok":true}`,
			want: `{"body":{"ok":true},"headers":{"content-type":"text/plain","host":"example.test"},"method":"POST","rawBody":"{\"ok\":true}","env":{}}`,
		},
		{
			name: "plain text", method: http.MethodDelete, contentType: "text/plain",
			body: "hello\n\xff",
			want: `{"body":null,"headers":{"content-type":"text/plain","host":"example.test"},"method":"DELETE","rawBody":"hello\n\ufffd","env":{}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://example.test/hooks/x", strings.NewReader(tt.body))
			if tt.body == "" {
				r = httptest.NewRequest(tt.method, "http://example.test/hooks/x", nil)
			}
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			for k, vs := range tt.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			got, err := AppendWebhookArgs(nil, r, tt.env, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) {
				t.Fatalf("output is not valid JSON: %s", got)
			}
			if gotWant := normalizeJSON(t, got); gotWant != normalizeJSON(t, []byte(tt.want)) {
				t.Errorf("AppendWebhookArgs\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// normalizeJSON compares JSON texts by value with escapes resolved.
func normalizeJSON(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func TestAppendWebhookArgsMultipart(t *testing.T) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("title", "report")
	_ = mw.WriteField("tag", "x")
	_ = mw.WriteField("tag", "y")
	fw, _ := mw.CreateFormFile("upload", "data.csv")
	_, _ = fw.Write([]byte("a,b\n1,2\n"))
	_ = mw.Close()

	r := httptest.NewRequest(http.MethodPost, "http://example.test/hooks/x", &buf)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	got, err := AppendWebhookArgs(nil, r, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var args struct {
		Body map[string]any `json:"body"`
	}
	if err := json.Unmarshal(got, &args); err != nil {
		t.Fatal(err)
	}
	want := `{"tag":["x","y"],"title":"report","upload":{"contentType":"application/octet-stream","filename":"data.csv","size":8}}`
	if b, _ := json.Marshal(args.Body); string(b) != want {
		t.Errorf("body = %s, want %s", b, want)
	}
}

func TestAppendWebhookArgsErrors(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		limit       int64
		hideLength  bool
		want        error
		wantText    string
	}{
		{name: "patch", method: http.MethodPatch, want: ErrMethodNotAllowed, wantText: "PATCH"},
		{name: "declared length over limit", method: http.MethodPost, body: strings.Repeat("a", 11), limit: 10, want: ErrBodyTooLarge, wantText: "limit 10 bytes"},
		{name: "streamed body over limit", method: http.MethodPost, body: strings.Repeat("a", 11), limit: 10, hideLength: true, want: ErrBodyTooLarge, wantText: "10 bytes"},
		{name: "invalid json", method: http.MethodPost, contentType: "application/json", body: `{"a":`, want: ErrInvalidBody},
		{name: "bad form", method: http.MethodPost, contentType: "application/x-www-form-urlencoded", body: "a=%zz", want: ErrInvalidBody},
		{name: "multipart without boundary", method: http.MethodPost, contentType: "multipart/form-data", body: "x", want: ErrInvalidBody},
		{name: "malformed content type", method: http.MethodPost, contentType: "application/json; =", body: "{}", want: ErrInvalidBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.hideLength {
				body = io.MultiReader(body)
			}
			r := httptest.NewRequest(tt.method, "http://example.test/hooks/x", body)
			if tt.hideLength {
				r.ContentLength = -1
			}
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			_, err := AppendWebhookArgs(nil, r, nil, tt.limit)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not mention %q", err, tt.wantText)
			}
		})
	}
}

// TestAppendWebhookArgsOverHTTP sends real requests to a loopback server
// that builds the arguments.
func TestAppendWebhookArgsOverHTTP(t *testing.T) {
	const token = "tok-123"
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !TokenEqual(strings.TrimPrefix(r.URL.Path, "/hooks/"), token) {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		args, err := AppendWebhookArgs(nil, r, nil, 64)
		if errors.Is(err, ErrBodyTooLarge) {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = args
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	tests := []struct {
		name   string
		path   string
		body   string
		status int
	}{
		{"accepted", "/hooks/" + token, `{"n":1}`, http.StatusNoContent},
		{"wrong token", "/hooks/tok-124", `{"n":1}`, http.StatusNotFound},
		{"too large", "/hooks/" + token, `{"s":"` + strings.Repeat("x", 100) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			resp, err := http.Post(srv.URL+tt.path, "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == http.StatusNoContent && !bytes.Contains(got, []byte(`"body":{"n":1}`)) {
				t.Errorf("arguments %s lack the body", got)
			}
		})
	}
}

func TestTokenEqual(t *testing.T) {
	tests := []struct {
		name      string
		got, want string
		equal     bool
	}{
		{"same", "s3cret", "s3cret", true},
		{"different", "s3cret", "s3creT", false},
		{"prefix", "s3c", "s3cret", false},
		{"longer", "s3cret-and-more", "s3cret", false},
		{"empty want", "", "", false},
		{"empty got", "", "s3cret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TokenEqual(tt.got, tt.want); got != tt.equal {
				t.Errorf("TokenEqual = %v, want %v", got, tt.equal)
			}
		})
	}
}

// FuzzAppendWebhookArgs checks that any body and content type yields
// valid JSON or an error, never a panic.
func FuzzAppendWebhookArgs(f *testing.F) {
	f.Add("application/json", `{"a":1}`)
	f.Add("application/x-www-form-urlencoded", "a=1&a=2")
	f.Add("multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--xyz--\r\n")
	f.Add("", "\xff\x00")
	f.Fuzz(func(t *testing.T, contentType, body string) {
		r := httptest.NewRequest(http.MethodPost, "http://example.test/", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		out, err := AppendWebhookArgs(nil, r, nil, 1<<16)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not valid JSON: %q", out)
		}
	})
}

func BenchmarkAppendWebhookArgs(b *testing.B) {
	body := `{"event":"payment.succeeded","data":{"id":"pay_1","amount":1250,"currency":"eur"}}`
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "http://example.test/hooks/x", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var err error
		buf, err = AppendWebhookArgs(buf[:0], r, nil, 0)
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestWebhookErrorsOmitBody checks that rejected requests do not echo the
// body, which may carry credentials, in the error message.
func TestWebhookErrorsOmitBody(t *testing.T) {
	const canary = "canary-7f3a9c1e"
	tests := []struct {
		name, contentType, body string
	}{
		{"invalid json", "application/json", `{"token":"` + canary + `"`},
		{"bad form escape", "application/x-www-form-urlencoded", "token=" + canary + "%zz"},
		{"broken multipart", "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"" + canary},
		{"too large", "application/json", `{"token":"` + canary + strings.Repeat("x", 64) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "http://example.test/hooks/x", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.contentType)
			_, err := AppendWebhookArgs(nil, r, nil, 64)
			if err == nil {
				t.Fatal("AppendWebhookArgs accepted the request, want an error")
			}
			if strings.Contains(err.Error(), canary) {
				t.Errorf("error message contains the body's canary value")
			}
		})
	}
}
