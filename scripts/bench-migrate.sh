#!/usr/bin/env bash
# `modelenv migrate --apply` of a project cache holding SIZE_MB of model weights (default
# 2000, in 4 blobs) plus the metadata of a few repos, into an empty central hub cache,
# side by side in hyperfine runs with what a careful person does by hand:
#   same filesystem:    `mv`                                (migrate must read 0 bytes)
#   other filesystem:   `cp -a` + `sha256sum` of every file + `rm -rf`   (migrate must beat it)
# The other filesystem is /dev/shm (tmpfs). Each run starts from a fresh copy of the project.
#   scripts/bench-migrate.sh [SIZE_MB] [extra hyperfine args]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-2000}"
shift || true
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
cargo build --release --quiet
me="$PWD/target/release/modelenv"
work=$(mktemp -d "$PWD/target/bench-migrate.XXXX")
shm=$(mktemp -d /dev/shm/bench-migrate.XXXX)
trap 'rm -rf "$work" "$shm"' EXIT

# The template project cache: models--org--big with 4 weight blobs, linked from a snapshot.
tpl="$work/template"
repo_dir="$tpl/models--org--big"
commit=0123456789abcdef0123456789abcdef01234567
mkdir -p "$repo_dir/blobs" "$repo_dir/snapshots/$commit" "$repo_dir/refs"
printf '%s' "$commit" > "$repo_dir/refs/main"
for i in 1 2 3 4; do
  head -c "$((size_mb / 4))M" /dev/urandom > "$work/w"
  sha=$(sha256sum "$work/w" | cut -d' ' -f1)
  mv "$work/w" "$repo_dir/blobs/$sha"
  ln -s "../../blobs/$sha" "$repo_dir/snapshots/$commit/model-0000$i-of-00004.safetensors"
done
echo "project cache: $(du -sh "$tpl" | cut -f1) in $(find "$tpl" -type f | wc -l) files"

export HOME="$work/home"
mkdir -p "$HOME"
repo="$work/repo"

bench() {
  local central=$1 label=$2 anchor_name=$3 anchor=$4
  shift 4
  local prep="rm -rf $repo $central/hf $central/hub $HOME/.local && mkdir -p $repo/.git $central && cp -a $tpl $repo/model_cache && sync"
  echo "== $label"
  # One run outside hyperfine to report the bytes migrate read.
  eval "$prep"
  (cd "$repo" && "$me" --hf-home "$central/hf" migrate --apply --json) |
    python3 -c 'import json,sys; print("migrate read", json.load(sys.stdin)["bytes_read"], "bytes")'
  hyperfine --warmup 1 --runs 5 --prepare "$prep" \
    --command-name "modelenv migrate --apply" "cd $repo && $me --hf-home $central/hf migrate --apply >/dev/null" \
    --command-name "$anchor_name" "$anchor" \
    "$@"
}

bench "$work/central" "same filesystem" "mv" \
  "mv $repo/model_cache $work/central/hub" "$@"
bench "$shm" "to another filesystem (/dev/shm)" "cp -a + sha256sum + rm -rf" \
  "cp -a $repo/model_cache $shm/hub && (cd $shm/hub && find . -type f -print0 | xargs -0 sha256sum >/dev/null) && rm -rf $repo/model_cache" "$@"
