//go:build tools

// Package deps pins module dependencies while packages are being written.
package deps

import (
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/crypto/pbkdf2"
	_ "golang.org/x/net/idna"
	_ "golang.org/x/term"
	_ "golang.org/x/text/secure/precis"
	_ "golang.org/x/time/rate"
	_ "modernc.org/sqlite"
)
