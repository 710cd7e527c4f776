#!/usr/bin/env bash
# Proves that only src/fsops/ can change the disk: a copy of the crate gets a module outside
# fsops that calls each banned function, and clippy must reject every one of those calls.
# Also checks that no module outside fsops switches the ban off (test modules excepted).
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. No `allow(clippy::disallowed_methods)` outside fsops, except on a `mod tests`.
bad=$(grep -rn "disallowed_methods" src --include='*.rs' | grep -v '^src/fsops/' |
  while IFS=: read -r file line _; do
    next=$(sed -n "$((line + 1))p" "$file")
    case "$next" in *"mod tests"*) ;; *) echo "$file:$line" ;; esac
  done)
if [ -n "$bad" ]; then
  echo "error: the disk-change ban is switched off outside src/fsops/:" >&2
  echo "$bad" >&2
  exit 1
fi

# 2. Each banned call, written anywhere else, fails clippy.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r Cargo.toml Cargo.lock clippy.toml src shells examples tests "$work/"
[ -d completions ] && cp -r completions "$work/"
cat > "$work/src/ban_probe.rs" <<'RS'
//! Calls every banned function once; clippy must flag each line.
#![allow(unused_must_use, dead_code)]
use std::path::Path;
pub fn probe(p: &Path) {
    std::fs::remove_file(p);
    std::fs::remove_dir(p);
    std::fs::remove_dir_all(p);
    std::fs::rename(p, p);
    std::fs::hard_link(p, p);
    std::fs::copy(p, p);
    std::fs::write(p, b"");
    std::fs::File::create(p);
    std::fs::create_dir(p);
    std::fs::create_dir_all(p);
    std::fs::set_permissions(p, <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o644));
    std::fs::OpenOptions::new().write(true).open(p);
    std::os::unix::fs::symlink(p, p);
    reflink_copy::reflink(p, p);
    reflink_copy::reflink_or_copy(p, p);
    tempfile::NamedTempFile::new().map(|t| t.persist(p));
    rustix::fs::unlinkat(rustix::fs::CWD, p, rustix::fs::AtFlags::empty());
    rustix::fs::renameat(rustix::fs::CWD, p, rustix::fs::CWD, p);
    rustix::fs::linkat(rustix::fs::CWD, p, rustix::fs::CWD, p, rustix::fs::AtFlags::empty());
    rustix::fs::symlinkat(p, rustix::fs::CWD, p);
    rustix::fs::mkdirat(rustix::fs::CWD, p, rustix::fs::Mode::empty());
}
RS
echo "pub mod ban_probe;" >> "$work/src/lib.rs"
expected=$(grep -cE '^    (std|reflink_copy|tempfile|rustix)::' "$work/src/ban_probe.rs")
# The project's own target folder: dependencies are reused, the probe crate builds apart.
target="${CARGO_TARGET_DIR:-$PWD/target}"
out=$(cd "$work" && CARGO_TARGET_DIR="$target" cargo clippy --lib --quiet --message-format=short 2>&1 || true)
flagged=$(printf '%s\n' "$out" | grep -c 'src/ban_probe.rs:.*disallowed method' || true)
if [ "$flagged" -ne "$expected" ]; then
  printf '%s\n' "$out" | grep 'ban_probe' >&2 || true
  echo "error: clippy flagged $flagged of $expected banned calls outside src/fsops/" >&2
  exit 1
fi
echo "disk-change ban: clippy rejects all $expected banned calls outside src/fsops/"
