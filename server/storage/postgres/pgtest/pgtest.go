// Package pgtest gives tests a throwaway PostgreSQL database.
//
// Tests that need PostgreSQL call [Database]; it skips the test unless the
// environment variable PARLEY_TEST_POSTGRES holds the URL of a server
// (for example postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
// whose user may create databases.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the environment variable holding the server URL.
const EnvVar = "PARLEY_TEST_POSTGRES"

// Database creates a fresh, empty database parley_test_<random> on the
// server named by PARLEY_TEST_POSTGRES, drops it (closing any connection
// left) when the test ends, and returns its URL. It skips the test when
// the variable is not set.
func Database(t testing.TB) string {
	t.Helper()
	base := getenv(t)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", EnvVar)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "parley_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", u.Redacted(), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: connecting to drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: dropping database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// WithSearchPath returns dbURL with its search_path set to schema, which
// it creates; several isolated sets of tables can so share one database.
func WithSearchPath(t testing.TB, dbURL, schema string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: connecting: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating schema %s: %v", schema, err)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Available reports whether PARLEY_TEST_POSTGRES is set.
func Available() bool { return lookup() != "" }

func getenv(t testing.TB) string {
	t.Helper()
	v := lookup()
	if v == "" {
		t.Skipf("%s is not set: skipping PostgreSQL tests (set it to e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)", EnvVar)
	}
	return v
}

func lookup() string { return strings.TrimSpace(os.Getenv(EnvVar)) }
