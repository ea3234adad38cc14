package load

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// curveNames maps the names ParseCurves accepts (lower case) to key
// exchanges: crypto/tls's own names and the usual OpenSSL spellings.
var curveNames = map[string]tls.CurveID{
	"x25519":             tls.X25519,
	"x25519mlkem768":     tls.X25519MLKEM768,
	"secp256r1mlkem768":  tls.SecP256r1MLKEM768,
	"secp384r1mlkem1024": tls.SecP384r1MLKEM1024,
	"p256":               tls.CurveP256,
	"p-256":              tls.CurveP256,
	"curvep256":          tls.CurveP256,
	"secp256r1":          tls.CurveP256,
	"prime256v1":         tls.CurveP256,
	"p384":               tls.CurveP384,
	"p-384":              tls.CurveP384,
	"curvep384":          tls.CurveP384,
	"secp384r1":          tls.CurveP384,
	"p521":               tls.CurveP521,
	"p-521":              tls.CurveP521,
	"curvep521":          tls.CurveP521,
	"secp521r1":          tls.CurveP521,
}

// CurveNames lists the canonical key-exchange names ParseCurves accepts,
// for usage messages.
const CurveNames = "x25519, x25519mlkem768, secp256r1mlkem768, secp384r1mlkem1024, p256, p384, p521"

// ParseCurves parses a comma-separated list of TLS key exchanges
// (case-insensitive, e.g. "x25519" or "X25519MLKEM768,x25519") into
// tls.Config.CurvePreferences, in the order given. An empty list returns
// nil: crypto/tls's defaults.
func ParseCurves(spec string) ([]tls.CurveID, error) {
	var ids []tls.CurveID
	for _, part := range strings.Split(spec, ",") {
		name := strings.ToLower(strings.TrimSpace(part))
		if name == "" {
			continue
		}
		id, ok := curveNames[name]
		if !ok {
			return nil, fmt.Errorf("load: unknown TLS key exchange %q (want %s)", part, CurveNames)
		}
		if slices.Contains(ids, id) {
			return nil, fmt.Errorf("load: TLS key exchange %q given twice", part)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
