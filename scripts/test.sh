#!/usr/bin/env bash
# Runs every check Parley has: go vet, gofmt, and go test ./... (unit,
# integration and interop tests). Installs the third-party XMPP clients the
# interop tests drive when they are missing (Debian packages and npm).
#
# With CI=true, PARLEY_INTEROP_REQUIRED=1 is set: a missing client fails the
# interop tests instead of skipping them.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
	export PATH="$PATH:/usr/local/go/bin"
fi

log() { printf '==> %s\n' "$*" >&2; }

# --- tools for interop/ (idempotent, quiet) ---------------------------------
apt_pkgs=()
/usr/bin/python3 -c 'import slixmpp' 2>/dev/null || apt_pkgs+=(python3-slixmpp)
command -v go-sendxmpp >/dev/null || apt_pkgs+=(go-sendxmpp)
command -v sendxmpp >/dev/null || apt_pkgs+=(sendxmpp)
/usr/bin/python3 -c 'import poezio.connection' 2>/dev/null || apt_pkgs+=(poezio)
command -v profanity >/dev/null || apt_pkgs+=(profanity)
command -v tmux >/dev/null || apt_pkgs+=(tmux) # profanity runs in tmux
command -v prosodyctl >/dev/null || apt_pkgs+=(prosody)   # interop/xep0227_test.go
command -v ejabberdctl >/dev/null || apt_pkgs+=(ejabberd)
# Prosody's resolver that reads /etc/hosts (interop/federation_test.go)
lua5.4 -e 'require "lunbound"' 2>/dev/null || apt_pkgs+=(lua-unbound)
[ -x /usr/bin/chromium ] || apt_pkgs+=(chromium) # interop/browser_test.go
command -v biboumi >/dev/null || apt_pkgs+=(biboumi) # interop/gateway_test.go
[ -x /usr/sbin/ngircd ] || apt_pkgs+=(ngircd)
command -v turnutils_uclient >/dev/null || apt_pkgs+=(coturn) # interop/turn_test.go
# the optional OpenSSL signer's build (-tags openssl, cgo): below
command -v gcc >/dev/null || apt_pkgs+=(gcc)
[ -f /usr/include/openssl/evp.h ] || apt_pkgs+=(libssl-dev)
if ((${#apt_pkgs[@]})); then
	sudo=()
	if [ "$(id -u)" != 0 ]; then
		if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
			sudo=(sudo)
		else
			sudo=(false)
		fi
	fi
	log "installing ${apt_pkgs[*]}"
	if ! { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null; }; then
		log "could not install ${apt_pkgs[*]} (not root?): their interop tests will skip (or fail under CI)"
	fi
fi

if command -v npm >/dev/null; then
	for dir in interop/xmppjs interop/strophe; do
		if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
			[ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
			log "npm ci in $dir"
			(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
		fi
	done
else
	log "npm not found: the @xmpp/client and strophe.js interop tests will skip (or fail under CI)"
fi

# --- checks ------------------------------------------------------------------
log "go vet ./..."
go vet ./...

log "gofmt -l"
unformatted=$(find . -name '*.go' -not -path './.git/*' -not -path '*/node_modules/*' -print0 | xargs -0 gofmt -l)
if [ -n "$unformatted" ]; then
	printf 'gofmt: these files need formatting (run gofmt -w):\n%s\n' "$unformatted" >&2
	exit 1
fi

log "staticcheck ./..."
staticcheck=$(command -v staticcheck || true)
if [ -z "$staticcheck" ]; then
	gobin=$(go env GOPATH)/bin
	if [ ! -x "$gobin/staticcheck" ]; then
		log "installing staticcheck"
		go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	fi
	staticcheck=$gobin/staticcheck
fi
"$staticcheck" ./...

# The PostgreSQL backend's tests run when PARLEY_TEST_POSTGRES names a
# server; a local one on the default port is used when there is one.
if [ -z "${PARLEY_TEST_POSTGRES:-}" ] && command -v pg_isready >/dev/null &&
	pg_isready -q -h 127.0.0.1 -p 5432 -U postgres 2>/dev/null; then
	export PARLEY_TEST_POSTGRES="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
fi
[ -n "${PARLEY_TEST_POSTGRES:-}" ] && log "PostgreSQL tests against ${PARLEY_TEST_POSTGRES%%\?*}"
# The cluster's tests need PostgreSQL and NATS with JetStream
# (PARLEY_TEST_NATS); a local NATS on the default port is used when there
# is one.
if [ -z "${PARLEY_TEST_NATS:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
	export PARLEY_TEST_NATS="nats://127.0.0.1:4222"
fi
[ -n "${PARLEY_TEST_NATS:-}" ] && log "cluster tests against NATS at ${PARLEY_TEST_NATS}"

# The optional build with RSA signatures through OpenSSL (docs/install.md):
# its package and the certificate store that uses it, built with the tag.
openssl_pkgs=(./server/certs/...)
log "go vet, staticcheck and go test -tags openssl ${openssl_pkgs[*]}"
CGO_ENABLED=1 go vet -tags openssl "${openssl_pkgs[@]}"
"$staticcheck" -tags openssl "${openssl_pkgs[@]}"
CGO_ENABLED=1 go test -count=1 -tags openssl "${openssl_pkgs[@]}"

if [ "${CI:-}" = true ]; then
	export PARLEY_INTEROP_REQUIRED=1
fi
log "go test ./...${PARLEY_INTEROP_REQUIRED:+ (PARLEY_INTEROP_REQUIRED=$PARLEY_INTEROP_REQUIRED)}"
# -count=1: the interop tests build and run the server binary, which the
# test cache cannot see; every run tests the tree as it is.
exec go test -count=1 -timeout 20m ./...
