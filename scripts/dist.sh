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
    # Linux builds are static: no dynamic loader work, so `modelenv init` starts in half the
    # time, and the binary runs on any glibc.
    case "$target" in
        *-linux-gnu) RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" cargo build --release --locked --quiet --target "$target" ;;
        *) cargo build --release --locked --quiet --target "$target" ;;
    esac
    bin="target/$target/release/modelenv"
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
