package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUploadPurge(t *testing.T) {
	dir := t.TempDir()
	up := filepath.Join(dir, "upload", "AAAAAAAAAAAAAAAAAAAAAAAA")
	if err := os.MkdirAll(up, 0o700); err != nil {
		t.Fatal(err)
	}
	meta := `{"owner":"alice@localhost","name":"f.txt","size":3,"type":"text/plain","created":"2020-01-01T00:00:00Z"}`
	os.WriteFile(filepath.Join(up, "meta.json"), []byte(meta), 0o600)
	os.WriteFile(filepath.Join(up, "data"), []byte("abc"), 0o600)
	var out, errb bytes.Buffer
	env := func(string) string { return "" }
	if code := run(context.Background(), []string{"upload", "purge", "--data", dir, "--older-than", "24h"}, env, nil, false, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "deleted 1 ") {
		t.Fatalf("output %q", out.String())
	}
	if _, err := os.Stat(up); !os.IsNotExist(err) {
		t.Fatalf("the old file is still there: %v", err)
	}
	if code := run(context.Background(), []string{"upload", "purge"}, env, nil, false, &out, &errb); code != 2 {
		t.Fatalf("purge without --older-than: exit %d", code)
	}
}
