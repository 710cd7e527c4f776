#!/usr/bin/env bash
# `modelenv migrate --apply` of a project cache of N repos (default 1,000) into an empty
# central hub cache on the same filesystem, side by side in one hyperfine run with what a
# careful human does by hand: `cp -a` + `sha256sum` of every file + `rm -rf`, and a bare `mv`.
# Each run starts from a fresh copy of the project (hyperfine --prepare).
#   scripts/bench-migrate.sh [N] [extra hyperfine args]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
shift || true
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
cargo build --release --quiet --example make_hub
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/examples/make_hub "$work/template" "$n"
echo "project cache: $n repos, $(find "$work/template" -type f | wc -l) files, $(find "$work/template" -type l | wc -l) links, $(du -sh "$work/template" | cut -f1)"
export HOME="$work/home"
mkdir -p "$HOME"
me="$PWD/target/release/modelenv"
repo="$work/repo"
prep="rm -rf $repo $work/central $HOME/.local && mkdir -p $repo/.git $work/central && cp -a $work/template $repo/model_cache"
hyperfine --warmup 1 --runs 5 --prepare "$prep" \
  --command-name "modelenv migrate --apply" "cd $repo && $me --hf-home $work/central/hf migrate --apply >/dev/null" \
  --command-name "cp -a + sha256sum + rm -rf" "cp -a $repo/model_cache $work/central/hub && (cd $work/central/hub && find . -type f -print0 | xargs -0 sha256sum >/dev/null) && rm -rf $repo/model_cache" \
  --command-name "mv" "mv $repo/model_cache $work/central/hub" \
  "$@"
