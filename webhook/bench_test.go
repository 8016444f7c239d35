package webhook

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// newSink starts a loopback server that reads each body and responds with 204.
func newSink(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// benchParallelism is the number of callers per CPU in both benchmarks;
// concurrent callers share flushes to disk as a server's would.
const benchParallelism = 8

var benchBody = []byte(`{"eventType":"tailordb.type_record.created","typeName":"Customer","newRecord":{"id":"c-1","name":"Acme"}}`)

// BenchmarkDispatcherPost measures a durable delivery: Enqueue (a Badger
// write and a flush shared with concurrent callers), the POST and the
// record of the attempt, with callers in parallel. Compare with
// BenchmarkBarePost for the overhead.
func BenchmarkDispatcherPost(b *testing.B) {
	sink := newSink(b)
	db := openDB(b, b.TempDir())
	cfg := testConfig()
	d, err := NewDispatcher(db, cfg, newFakeSecrets(nil), nil)
	if err != nil {
		b.Fatalf("new dispatcher: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(func() { cancel(); _ = d.Close() })
	if err := d.Start(ctx); err != nil {
		b.Fatalf("start: %v", err)
	}

	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			j, err := d.Enqueue(ctx, Job{Executor: "bench", URL: sink.URL, Body: benchBody})
			if err != nil {
				b.Errorf("enqueue: %v", err)
				return
			}
			done, err := d.Wait(ctx, j.ID)
			if err != nil || done.Status != StatusSuccess {
				b.Errorf("wait = {%s, %v}, want SUCCESS", done.Status, err)
				return
			}
		}
	})
}

// BenchmarkBarePost measures a plain net/http POST to the same kind of
// sink with the same parallelism, the floor for BenchmarkDispatcherPost.
func BenchmarkBarePost(b *testing.B) {
	sink := newSink(b)
	client := &http.Client{}

	b.ReportAllocs()
	b.SetBytes(int64(len(benchBody)))
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(sink.URL, "application/json", bytes.NewReader(benchBody))
			if err != nil {
				b.Errorf("post: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	})
}
