package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const modulePath = "github.com/parley-xmpp/parley"

type pkg struct {
	ImportPath string
	Deps       []string
}

// TestDependencyRule checks with `go list -deps` that imports point down
// the layering of docs/architecture.md: the client library never imports
// the server, storage never imports the router or transports, modules never
// import each other, and only the composition root and commands see
// everything.
func TestDependencyRule(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(out)
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.ImportPath, modulePath+"/") {
			pkgs = append(pkgs, p)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("only %d packages listed", len(pkgs))
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, modulePath+"/")
		for _, d := range p.Deps {
			if !strings.HasPrefix(d, modulePath+"/") {
				continue
			}
			dep := strings.TrimPrefix(d, modulePath+"/")
			if why := violation(rel, dep); why != "" {
				t.Errorf("%s imports %s: %s", rel, dep, why)
			}
		}
	}
}

func under(p, prefix string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }

// violation returns why pkg may not depend on dep, or "".
func violation(pkg, dep string) string {
	switch {
	case under(pkg, "xmpp") && !under(dep, "xmpp"):
		return "the xmpp/ library never imports the server"
	case under(pkg, "xmpp/jid") && dep != "xmpp/jid":
		return "xmpp/jid is the bottom layer"
	case under(pkg, "xmpp/stanza") && !under(dep, "xmpp/jid"):
		return "xmpp/stanza may only import jid"
	case under(pkg, "xmpp/sasl"):
		return "xmpp/sasl has no project dependencies"
	case under(pkg, "server/storage") && !under(pkg, "server/storage/storagetest") &&
		!(under(dep, "server/storage") || under(dep, "xmpp")):
		return "storage may only import storage and xmpp/"
	case under(pkg, "server/mod"):
		if under(dep, "server/mod") {
			return "a module never imports another module"
		}
		if under(dep, "server/router") || isTransport(dep) || under(dep, "server/stream") || under(dep, "server/app") || under(dep, "server/auth") || under(dep, "server/s2s") {
			return "modules see the server only through server/module"
		}
		if under(dep, "server/storage") && dep != "server/storage" {
			return "modules use storage through its interfaces, never a backend"
		}
	case under(pkg, "server/archive") && dep != "server/storage" && dep != "server/session" && !under(dep, "xmpp"):
		return "the shared archive code knows only storage's interfaces, the session and xmpp/"
	case under(pkg, "server/poller"):
		return "the poller is a leaf: it knows sockets, not streams"
	case under(pkg, "server/stream") && (isTransport(dep) || under(dep, "server/tlsrec") || under(dep, "server/poller")):
		return "the stream engine imports no transport"
	case under(pkg, "server/stream") && (under(dep, "server/mod") || under(dep, "server/router") || under(dep, "server/app")):
		return "the stream engine knows the router only through an interface, and no features"
	case under(pkg, "server/transport") && (under(dep, "server/mod") || under(dep, "server/router") || under(dep, "server/app")):
		return "transports know the router only through an interface, and no features"
	case isTransport(pkg) && isTransport(dep) && transportOf(pkg) != transportOf(dep):
		return "a transport never imports another transport"
	case under(pkg, "server/s2s") && (under(dep, "server/mod") || under(dep, "server/module") || under(dep, "server/router") || under(dep, "server/app") || under(dep, "server/stream")):
		return "federation knows the router only through an interface, and no features"
	case under(pkg, "server/cluster") && (under(dep, "server/mod") || under(dep, "server/module") || under(dep, "server/router") || under(dep, "server/app") || under(dep, "server/stream") || isTransport(dep)):
		return "the cluster knows the router only through an interface, and no features"
	case under(pkg, "server/router") && (isTransport(dep) || under(dep, "server/stream") || under(dep, "server/mod") || under(dep, "server/app") || under(dep, "server/s2s")):
		return "the router does not know the stream engine, transports, federation or features"
	case under(pkg, "server/module") && (under(dep, "server/router") || isTransport(dep) || under(dep, "server/stream") || under(dep, "server/mod") || under(dep, "server/s2s")):
		return "the module API depends on nothing above it"
	case under(pkg, "server/session") && !under(dep, "xmpp"):
		return "the session table only knows xmpp/"
	case under(pkg, "server/config") && dep != "":
		if !under(dep, "xmpp") {
			return "config depends on nothing in the server"
		}
	case under(dep, "cmd"):
		return "nothing imports a command"
	case under(dep, "xmpptest"):
		return "only tests use xmpptest"
	}
	return ""
}

// isTransport reports whether p is a transport package: one under
// server/transport, which carries client streams for the engine
// (server/stream).
func isTransport(p string) bool { return strings.HasPrefix(p, "server/transport/") }

// transportOf returns the transport a package under server/transport
// belongs to: "server/transport/tcp" for server/transport/tcp/....
func transportOf(p string) string {
	rest := strings.TrimPrefix(p, "server/transport/")
	name, _, _ := strings.Cut(rest, "/")
	return "server/transport/" + name
}

func TestViolationRules(t *testing.T) {
	bad := [][2]string{
		{"xmpp/client", "server/router"},
		{"server/mod/roster", "server/mod/offline"},
		{"server/mod/roster", "server/router"},
		{"server/mod/mam", "server/storage/sqlite"},
		{"server/router", "server/stream"},
		{"server/storage/sqlite", "server/module"},
		{"xmpp/stanza", "xmpp/stream"},
		{"server/poller", "server/transport/tcp"},
		{"server/poller", "server/stream"},
		{"server/stream", "server/transport/pipe"},
		{"server/stream", "server/router"},
		{"server/stream", "server/mod/roster"},
		{"server/transport/pipe", "server/transport/tcp"},
		{"server/transport/tcp", "server/router"},
		{"server/module", "server/stream"},
		{"server/stream", "server/transport/tcp"},
		{"server/stream", "server/tlsrec"},
		{"server/stream", "server/poller"},
		{"server/transport/tcp", "server/mod/roster"},
		{"server/mod/roster", "server/transport/pipe"},
		{"server/mod/roster", "server/stream"},
		{"server/router", "server/transport/tcp"},
		{"server/archive", "server/module"},
		{"server/archive", "server/storage/sqlite"},
		{"server/mod/adhoc", "server/s2s"},
		{"server/module", "server/s2s"},
		{"server/router", "server/s2s"},
		{"server/s2s", "server/router"},
		{"server/s2s", "server/module"},
		{"server/cluster", "server/router"},
		{"server/cluster", "server/module"},
		{"server/cluster", "server/mod/roster"},
	}
	for _, b := range bad {
		if violation(b[0], b[1]) == "" {
			t.Errorf("%s -> %s should be a violation", b[0], b[1])
		}
	}
	good := [][2]string{
		{"server/mod/roster", "server/module"},
		{"server/mod/roster", "xmpp/roster"},
		{"server/app", "server/mod/roster"},
		{"xmpp/client", "xmpp/stream"},
		{"server/router", "server/session"},
		{"server/transport/tcp", "server/tlsrec"},
		{"server/transport/tcp", "server/transport/tcp"},
		{"server/transport/pipe", "server/stream"},
		{"server/stream", "server/session"},
		{"server/stream", "server/module"},
		{"server/app", "server/transport/tcp"},
		{"server/transport/tcp", "server/stream"},
		{"server/transport/tcp", "server/poller"},
		{"server/stream", "xmpp/stream"},
		{"server/mod/muc", "server/archive"},
		{"server/archive", "server/storage"},
		{"server/app", "server/s2s"},
		{"server/s2s", "server/s2s/dialback"},
		{"server/s2s", "xmpp/stream"},
		{"server/app", "server/cluster"},
		{"server/cluster", "server/session"},
	}
	for _, g := range good {
		if why := violation(g[0], g[1]); why != "" {
			t.Errorf("%s -> %s flagged: %s", g[0], g[1], why)
		}
	}
}

// TestEngineKnowsNoSockets checks that the stream engine reaches its
// channel only through stream.Transport: it imports none of the standard
// packages of sockets and TLS, which are the transports' business.
func TestEngineKnowsNoSockets(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, "../../server/stream").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := strings.Fields(string(out))
	if len(imports) < 5 {
		t.Fatalf("only %d imports listed for server/stream", len(imports))
	}
	for _, imp := range imports {
		switch imp {
		case "net", "crypto/tls", "crypto/x509", "syscall", "os":
			t.Errorf("server/stream imports %s: the engine knows no sockets or TLS, only stream.Transport", imp)
		}
	}
}
