package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestPurgeMarkers: a deleted key leaves a marker in the bucket's stream
// until purgeMarkers removes it — once it is old enough — while live keys
// stay.
func TestPurgeMarkers(t *testing.T) {
	url := os.Getenv("PARLEY_TEST_NATS")
	if url == "" {
		t.Skip("PARLEY_TEST_NATS not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	rand.Read(b[:])
	bucket := "parleytest_markers_" + hex.EncodeToString(b[:])
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer js.DeleteKeyValue(context.Background(), bucket)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := kv.Put(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "b"} {
		if err := kv.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	msgs := func() uint64 {
		t.Helper()
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return st.Values()
	}
	if got := msgs(); got != 3 { // c, and the markers of a and b
		t.Fatalf("before: %d messages, want 3", got)
	}
	if err := purgeMarkers(ctx, kv, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := msgs(); got != 3 {
		t.Errorf("markers younger than the age were purged: %d messages, want 3", got)
	}
	time.Sleep(20 * time.Millisecond)
	if err := purgeMarkers(ctx, kv, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := msgs(); got != 1 {
		t.Errorf("after: %d messages, want 1 (the live key)", got)
	}
	if e, err := kv.Get(ctx, "c"); err != nil || string(e.Value()) != "v" {
		t.Errorf("live key: %v %v", e, err)
	}
}
