#!/bin/bash
# server/web/client/refresh.sh VERSION — replace the vendored Converse.js
# (the built-in web client) with release VERSION from the npm registry.
# Only the files the client needs are kept: the minified script and
# styles, their assets, the licence. Locales other than English are left
# out (they are loaded only for other languages).
set -euo pipefail
VERSION=${1:?usage: refresh.sh VERSION}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "converse.js@$VERSION" >/dev/null && tar xzf converse.js-*.tgz)
rm -rf "$HERE/dist"
mkdir -p "$HERE/dist"
for f in converse.min.js converse.min.css emoji.json libomemo.esm.min.js curve25519_compiled.wasm \
	shared-connection-worker.js images sounds webfonts; do
	cp -r "$TMP/package/dist/$f" "$HERE/dist/"
done
cp "$TMP/package/LICENSE" "$HERE/dist/LICENSE"
cp "$TMP/package/COPYRIGHT" "$HERE/dist/COPYRIGHT" 2>/dev/null || true
echo "$VERSION" >"$HERE/dist/VERSION"
echo "Converse.js $VERSION vendored in $HERE/dist"
