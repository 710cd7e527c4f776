#!/bin/sh
# Builds modelenv for a target and writes OUTDIR/modelenv-<target>.tar.gz (binary, completions,
# README, license) and OUTDIR/modelenv-<target>.tar.gz.sha256, then prints the archive's path.
#
#   scripts/dist.sh OUTDIR [--target TRIPLE] [--bin PATH]
#     --target TRIPLE  the Rust target [default: this machine's]. It must build here: a macOS
#                      target on macOS, a Linux one on Linux, another processor's with its
#                      standard library installed (`rustup target add TRIPLE`) and a linker.
#     --bin PATH       package this already built binary instead of building one
#
# The binary packaged is the one cargo reports having built (`--message-format=json`), wherever
# CARGO_TARGET_DIR or cargo's configuration put it, never a leftover in ./target. Linux builds
# are static. (The tests make the release profile fast with cargo's CARGO_PROFILE_RELEASE_*.)
set -eu
cd "$(dirname "$0")/.."

die() {
    printf 'dist.sh: error: %s\n' "$*" >&2
    exit 2
}

usage="usage: scripts/dist.sh OUTDIR [--target TRIPLE] [--bin PATH]"
[ "$#" -ge 1 ] || die "$usage"
out="$1"
shift
target=""
bin=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        --target) [ "$#" -ge 2 ] || die "--target needs a triple"; target="$2"; shift ;;
        --bin) [ "$#" -ge 2 ] || die "--bin needs a path"; bin="$2"; shift ;;
        *) die "unknown argument $1; $usage" ;;
    esac
    shift
done

command -v rustc >/dev/null 2>&1 || die "rustc is not installed: install Rust with rustup"
host=$(rustc -vV | sed -n 's/^host: //p')
[ -n "$target" ] || target="$host"
case "$target" in
    *[!A-Za-z0-9_.-]* | "") die "'$target' is not a target triple" ;;
esac

# The operating system a target runs on, as people name it.
os_of() {
    case "$1" in
        *-apple-darwin) echo macOS ;;
        *-linux-*) echo Linux ;;
        *) echo "$1" ;;
    esac
}

if [ -n "$bin" ]; then
    [ -f "$bin" ] || die "--bin $bin is not a file"
else
    if [ "$target" != "$host" ]; then
        if [ "$(os_of "$target")" != "$(os_of "$host")" ]; then
            die "cannot build $target on this $(os_of "$host") machine ($host): a $(os_of "$target") binary is built on $(os_of "$target") (the release workflow builds each target on its own runner); to package a binary built elsewhere, pass --bin PATH"
        fi
        if [ ! -d "$(rustc --print sysroot)/lib/rustlib/$target/lib" ]; then
            die "the Rust standard library for $target is not installed: run \`rustup target add $target\` (a Linux target for another processor also needs its linker)"
        fi
    fi
    flags="${RUSTFLAGS:-}"
    # Linux builds are static: no dynamic loader work, so `modelenv init` starts in half the
    # time, and the binary runs on any glibc.
    case "$target" in
        *-linux-gnu) flags="$flags -C target-feature=+crt-static" ;;
    esac
    # stdout: one JSON message a line; diagnostics and errors still go to stderr, rendered.
    json=$(RUSTFLAGS="$flags" cargo build --release --locked --quiet --bin modelenv \
        --target "$target" --message-format=json-render-diagnostics) ||
        die "cargo could not build modelenv for $target (its errors are above)"
    bin=$(printf '%s\n' "$json" | grep '"reason":"compiler-artifact"' | grep '"kind":\["bin"\]' |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
    case "$bin" in
        "") die "cargo reported no modelenv binary for $target" ;;
        *\\*) die "cargo's build folder ($bin) has a backslash or quote in its path; set CARGO_TARGET_DIR to a plain path" ;;
    esac
    [ -f "$bin" ] || die "cargo reported $bin, which is not a file"
fi

# sha256 of FILE in sha256sum's format (macOS has shasum instead).
sha256_line() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1"
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1"
    else
        die "neither sha256sum nor shasum is installed"
    fi
}

mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$bin" "$stage/modelenv"
chmod 755 "$stage/modelenv"
cp -R completions README.md LICENSE "$stage/"
name="modelenv-$target.tar.gz"
tar -czf "$out/$name" -C "$stage" modelenv completions README.md LICENSE
(cd "$out" && sha256_line "$name" >"$name.sha256")
echo "$out/$name"
