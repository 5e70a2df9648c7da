#!/usr/bin/env bash
# Builds the release binary and packs it for distribution:
#   dist/llm-router-<version>-<target>.mcpb     the MCP Bundle Claude Desktop installs
#                                               (double-click, or Settings → Extensions)
#   dist/llm-router-<target>.tar.gz             the bare binary, for a GitHub release and the
#                                               OpenClaw skill's download installer
#
# The bundle holds the binary for the platform it was built on, so the staged manifest's
# compatibility.platforms is narrowed to that platform. Build once per platform (macOS,
# Windows, Linux) for a release. Needs cargo and node/npm (for the real @anthropic-ai/mcpb
# CLI, which validates the manifest and packs the bundle; installed into a temp dir unless
# `mcpb` is already on PATH).
#
# Usage: packaging/build-mcpb.sh [--target TRIPLE]
set -euo pipefail
cd "$(dirname "$0")/.."

MCPB_VERSION="2.1.2"
target=""
if [ "${1:-}" = "--target" ]; then
    target="${2:?--target needs a target triple}"
fi

version="$(grep -m1 '^version' Cargo.toml | sed -E 's/^version *= *"([^"]+)".*/\1/')"
manifest_version="$(grep -m1 '"version"' packaging/mcpb/manifest.json | sed -E 's/.*"version": *"([^"]+)".*/\1/')"
if [ "$version" != "$manifest_version" ]; then
    echo "packaging/mcpb/manifest.json says version $manifest_version but Cargo.toml says $version" >&2
    exit 1
fi

echo "--- cargo build --release ${target:+--target $target}"
if [ -n "$target" ]; then
    cargo build --release --locked --target "$target"
    bin_dir="target/$target/release"
else
    cargo build --release --locked
    bin_dir="target/release"
    target="$(rustc -vV | sed -n 's/^host: //p')"
fi

exe=""
case "$target" in
    *windows*) exe=".exe"; platform="win32" ;;
    *apple-darwin*) platform="darwin" ;;
    *linux*) platform="linux" ;;
    *) echo "unsupported target $target" >&2; exit 1 ;;
esac

if command -v mcpb >/dev/null 2>&1; then
    mcpb_cmd="mcpb"
else
    if ! command -v npm >/dev/null 2>&1; then
        echo "npm is not installed: it is needed to fetch the @anthropic-ai/mcpb CLI" >&2
        exit 1
    fi
    tools="$(mktemp -d)"
    trap 'rm -rf "$tools"' EXIT
    npm install --prefix "$tools" --no-audit --no-fund --loglevel=error \
        "@anthropic-ai/mcpb@$MCPB_VERSION" >/dev/null
    mcpb_cmd="$tools/node_modules/.bin/mcpb"
fi

stage="target/mcpb/llm-router"
rm -rf "$stage"
mkdir -p "$stage/server" dist
cp "$bin_dir/llm-router$exe" "$stage/server/llm-router$exe"
chmod 755 "$stage/server/llm-router$exe"
cp README.md "$stage/README.md"
# The manifest as checked in lists every platform; this bundle runs on one.
node -e '
    const fs = require("fs");
    const [src, dst, platform] = process.argv.slice(1);
    const m = JSON.parse(fs.readFileSync(src, "utf8"));
    m.compatibility = Object.assign({}, m.compatibility, { platforms: [platform] });
    fs.writeFileSync(dst, JSON.stringify(m, null, 2) + "\n");
' packaging/mcpb/manifest.json "$stage/manifest.json" "$platform"

echo "--- mcpb validate"
"$mcpb_cmd" validate "$stage/manifest.json"

bundle="dist/llm-router-$version-$target.mcpb"
echo "--- mcpb pack → $bundle"
"$mcpb_cmd" pack "$stage" "$bundle"

tarball="dist/llm-router-$target.tar.gz"
tar -czf "$tarball" -C "$bin_dir" "llm-router$exe"
echo "--- done"
ls -l "$bundle" "$tarball"
