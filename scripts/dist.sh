#!/bin/sh
# Builds the release binary for this machine and writes OUTDIR/modelenv-<target>.tar.gz
# (binary, completions, README, license) and OUTDIR/modelenv-<target>.tar.gz.sha256.
#   scripts/dist.sh OUTDIR [--bin PATH]   (--bin packages an already built binary)
set -eu
cd "$(dirname "$0")/.."
[ "$#" -ge 1 ] || { echo "usage: scripts/dist.sh OUTDIR [--bin PATH]" >&2; exit 2; }
out="$1"
bin=""
if [ "$#" -ge 3 ] && [ "$2" = "--bin" ]; then
    bin="$3"
fi
target=$(rustc -vV | sed -n 's/^host: //p')
if [ -z "$bin" ]; then
    cargo build --release --locked --quiet
    bin=target/release/modelenv
fi
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$bin" "$stage/modelenv"
chmod 755 "$stage/modelenv"
cp -R completions README.md LICENSE "$stage/"
name="modelenv-$target.tar.gz"
tar -czf "$out/$name" -C "$stage" modelenv completions README.md LICENSE
(cd "$out" && sha256sum "$name" > "$name.sha256")
echo "$out/$name"
