#!/bin/sh
# Builds the parley .deb with nfpm: a static binary of ./cmd/parley, the
# systemd unit, a default /etc/parley/parley.yaml and the maintainer
# scripts of packaging/.
#
#   packaging/build-deb.sh [OUTDIR]     (default: dist)
#
# PARLEY_VERSION (default: the version the binary reports) and GOARCH
# (default: this machine's) may be set. nfpm runs as a Go tool at a fixed
# version, fetched by the Go toolchain like any module.
set -eu

NFPM_VERSION=v2.48.0

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-dist}
case $out in /*) ;; *) out=$root/$out ;; esac
mkdir -p "$out"
cd "$root"

arch=${GOARCH:-$(go env GOARCH)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

version=${PARLEY_VERSION:-}
ldflags="-s -w"
if [ -n "$version" ]; then
	ldflags="$ldflags -X main.version=$version"
fi
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$work/parley" ./cmd/parley
if [ -z "$version" ]; then
	version=$("$work/parley" version | awk '{print $2}')
fi

sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@BINARY@|$work/parley|" \
	packaging/nfpm.yaml >"$work/nfpm.yaml"
go run "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION" \
	package --config "$work/nfpm.yaml" --packager deb --target "$out/"
ls "$out"/parley_"$version"_"$arch".deb
