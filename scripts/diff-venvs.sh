#!/usr/bin/env bash
# Builds (once, cached under target/) the real Python environments the differential test
# (tests/doctor_differential.rs) checks the doctor against:
#   target/diff-venv/v4   transformers 4.x, huggingface_hub 0.36, datasets 3.x
#   target/diff-venv/v5   transformers 5.x, the newest huggingface_hub and datasets
#   target/diff-venv/mlx  mlx (CPU) and mlx-lm, where they install; else a SKIPPED file
#                         holding the reason.
# Each environment is marked done by a `.ready` file written last, so an interrupted build is
# redone. Builds run in parallel; the whole takes a few minutes with a warm pip cache.
set -euo pipefail
cd "$(dirname "$0")/.."
root="${MODELENV_DIFF_VENVS:-$PWD/target/diff-venv}"
mkdir -p "$root"

build() {
  local name=$1
  shift
  local dir="$root/$name"
  [ -e "$dir/.ready" ] && return 0
  rm -rf "$dir"
  python3 -m venv "$dir"
  if "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" >"$root/$name.log" 2>&1; then
    "$dir/bin/pip" freeze >"$dir/.ready"
  else
    return 1
  fi
}

build v4 'transformers>=4.57,<5' 'huggingface_hub>=0.36,<1' 'datasets>=3.6,<4' &
v4=$!
build v5 'transformers>=5' huggingface_hub datasets &
v5=$!
(
  if [ ! -e "$root/mlx/.ready" ] && [ ! -e "$root/mlx.SKIPPED" ]; then
    if ! build mlx 'mlx[cpu]' mlx-lm datasets; then
      rm -rf "$root/mlx"
      {
        echo "mlx-lm does not install on $(uname -sm) with $(python3 --version):"
        tail -n 5 "$root/mlx.log"
      } >"$root/mlx.SKIPPED"
    fi
  fi
) &
mlx=$!
status=0
wait "$v4" || { echo "building $root/v4 failed: see $root/v4.log" >&2; status=1; }
wait "$v5" || { echo "building $root/v5 failed: see $root/v5.log" >&2; status=1; }
wait "$mlx" || true
exit "$status"
