#!/usr/bin/env bash
# `modelenv init zsh` runs in every new shell. Times it side by side with the anchor
# (`zoxide init zsh`) and a bare /bin/true, in one hyperfine run, with a temp HOME holding a
# config file (the one file init reads).
#   scripts/bench-init.sh [--export-json FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
command -v zoxide >/dev/null || { echo "needs zoxide (cargo install zoxide)" >&2; exit 2; }
# The binary as released: the one in scripts/dist.sh's archive (static on Linux), wherever
# cargo built it.
dist=$(mktemp -d)
home=$(mktemp -d)
trap 'rm -rf "$home" "$dist"' EXIT
archive=$(scripts/dist.sh "$dist")
tar -xzf "$archive" -C "$dist" modelenv
bin="$dist/modelenv"
mkdir -p "$home/.config/modelenv"
printf 'hf_home = "~/.cache/huggingface"\ncustom_model_dir = "~/models"\n' > "$home/.config/modelenv/config.toml"
export HOME="$home"
hyperfine -N --warmup 50 --runs 1000 \
  --command-name true /bin/true \
  --command-name "zoxide init zsh" "zoxide init zsh" \
  --command-name "modelenv init zsh" "$bin init zsh" \
  "$@"

# Wall-clock numbers on a shared 2-core machine are noisy; instruction counts are not.
if command -v valgrind >/dev/null; then
  echo
  echo "instructions per run (valgrind --tool=callgrind):"
  for c in /bin/true "$(command -v zoxide) init zsh" "$bin init zsh"; do
    # shellcheck disable=SC2086 # $c is a command line of fixed words
    n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null $c 2>&1 >/dev/null | sed -n 's/.*Collected : //p')
    printf '  %-22s %s\n' "${c##*/}" "$n"
  done
fi
