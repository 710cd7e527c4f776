#!/usr/bin/env bash
# `modelenv usage --json` on a hub cache of N repos (default 3,000), side by side in one
# hyperfine run with the anchors: `hf cache ls --format json` (huggingface_hub's own scan) and
# `du -sb` (a bare walk). Needs hyperfine and the test Python env (scripts/test.sh makes it).
#   scripts/bench-usage.sh [N] [extra hyperfine args]
# MODELENV_BASELINE=/path/to/an/older/modelenv adds that build to the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-3000}"
shift || true
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
hf="${MODELENV_TEST_VENV:-$PWD/target/test-venv}/bin/hf"
[ -x "$hf" ] || { echo "needs $hf: run scripts/test.sh once" >&2; exit 2; }
cargo build --release --quiet --example make_hub
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hub="$work/hf/hub"
target/release/examples/make_hub "$hub" "$n"
echo "hub cache: $n repos, $(find "$hub" -type f | wc -l) files, $(du -sh "$hub" | cut -f1)"
export HOME="$work/home"
mkdir -p "$HOME"
me="$PWD/target/release/modelenv"
baseline=()
if [ -n "${MODELENV_BASELINE:-}" ]; then
  baseline=(--command-name "baseline usage --json" "$MODELENV_BASELINE --hf-home $work/hf usage --json --store hf-hub --no-hash-cache")
fi
hyperfine --warmup 2 --runs 10 \
  --command-name "modelenv usage --json" "$me --hf-home $work/hf usage --json --store hf-hub --no-hash-cache" \
  "${baseline[@]}" \
  --command-name "hf cache ls --format json" "$hf cache ls --cache-dir $hub --format json" \
  --command-name "du -sb" "du -sb $hub" \
  "$@"
