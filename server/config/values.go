package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// maxSize bounds every size setting (1 GiB) so that arithmetic on sizes
// never overflows.
const maxSize = 1 << 30

// ParseSize parses a byte size: a plain non-negative integer, or an integer
// followed by B, KiB, MiB or GiB (optionally separated by a space), such as
// "256KiB". Sizes above 1 GiB are rejected.
func ParseSize(s string) (int, error) {
	// The accepted suffixes; "B" last, as it ends the others.
	units := [...]struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	if num == "" || strings.IndexFunc(num, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("invalid size %q: want an integer or a number with unit B, KiB, MiB or GiB, such as 256KiB", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult || n*mult > maxSize {
		return 0, fmt.Errorf("size %q is too large: at most 1GiB", s)
	}
	return int(n * mult), nil
}

// ParseDuration parses a non-negative duration in Go syntax, such as "30s",
// "5m" or "1h30m". A bare "0" is accepted; other numbers need a unit.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return 0, fmt.Errorf("duration %q needs a unit, such as %ss", s, s)
		}
		return 0, fmt.Errorf("invalid duration %q: want Go syntax such as 30s, 5m or 1h30m", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	return d, nil
}

// NormalizeDomain validates a domain name with the IDNA2008 lookup profile
// and returns it in lower-case Unicode form (the form used in JIDs), with
// one trailing dot removed. IP addresses are rejected.
func NormalizeDomain(s string) (string, error) {
	d := strings.TrimSuffix(s, ".")
	if d == "" {
		return "", errors.New("domain name is empty")
	}
	if _, err := netip.ParseAddr(strings.Trim(d, "[]")); err == nil {
		return "", fmt.Errorf("%q is an IP address, not a domain name", s)
	}
	ascii, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid domain name: %w", s, err)
	}
	if len(ascii) > 253 {
		return "", fmt.Errorf("%q is longer than 253 bytes", s)
	}
	for label := range strings.SplitSeq(ascii, ".") {
		if label == "" {
			return "", fmt.Errorf("%q has an empty label", s)
		}
		if len(label) > 63 {
			return "", fmt.Errorf("%q has a label longer than 63 bytes", s)
		}
	}
	uni, err := idna.Lookup.ToUnicode(ascii)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid domain name: %w", s, err)
	}
	return strings.ToLower(uni), nil
}

// checkAddress validates a listener address: host:port with a numeric
// port; the host may be empty, a name or an IP address.
func checkAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: port must be a number from 0 to 65535", addr)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q: invalid host", addr)
	}
	return nil
}

// parseStorage parses the storage setting.
func parseStorage(s string) (Storage, error) {
	const want = "want sqlite, sqlite:/path/file.db or postgres://user:pass@host/db"
	switch {
	case s == "sqlite":
		return Storage{Kind: StorageSQLite}, nil
	case strings.HasPrefix(s, "sqlite:"):
		p := strings.TrimPrefix(s, "sqlite:")
		if p == "" {
			return Storage{}, fmt.Errorf("sqlite: needs a file path; %s", want)
		}
		return Storage{Kind: StorageSQLite, Path: p}, nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		u, err := url.Parse(s)
		if err != nil {
			return Storage{}, fmt.Errorf("invalid postgres URL: %w", err)
		}
		if u.Host == "" {
			return Storage{}, errors.New("postgres URL needs a host")
		}
		return Storage{Kind: StoragePostgres, URL: s}, nil
	default:
		return Storage{}, fmt.Errorf("unknown storage %q; %s", s, want)
	}
}

// parseTLSVersion parses "1.2" or "1.3".
func parseTLSVersion(s string) (uint16, error) {
	switch s {
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	default:
		return 0, fmt.Errorf("must be \"1.2\" or \"1.3\", not %q", s)
	}
}

// tlsVersionName is the inverse of parseTLSVersion.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	default:
		return fmt.Sprintf("0x%04x", v)
	}
}

// parseLogLevel parses debug, info, warn or error.
func parseLogLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("must be debug, info, warn or error, not %q", s)
	}
}
