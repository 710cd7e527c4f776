#!/usr/bin/env bash
# Times `modelenv doctor` without probes (target: under 100 ms) and with them (bounded by the
# slowest interpreter, since shells and interpreters are probed in parallel), after an install
# into a temp HOME, with the test venv's Python (real huggingface_hub and datasets) on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "needs hyperfine" >&2; exit 2; }
venv="${MODELENV_TEST_VENV:-$PWD/target/test-venv}"
[ -x "$venv/bin/python" ] || { echo "needs $venv: run scripts/test.sh once" >&2; exit 2; }
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/repo/.git"
cd "$work/repo"
export HOME="$work/home" SHELL=/bin/bash PATH="$venv/bin:/usr/local/bin:/usr/bin:/bin"
me="$OLDPWD/target/release/modelenv"
"$me" install --shell bash --no-doctor 2>/dev/null
hyperfine --warmup 2 --runs 10 -i \
  --command-name "doctor --no-probe" "$me doctor --no-probe" \
  --command-name "doctor (shells + python probes)" "$me doctor" \
  --command-name "python -c 'import datasets.config' (slowest probe alone)" "$venv/bin/python -c 'import huggingface_hub.constants, datasets.config'" \
  "$@"
