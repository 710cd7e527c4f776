#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian/Ubuntu machine: installs the real shells and
# linters the tests start (with apt-get, when missing), creates the Python environment the
# integration tests import (huggingface_hub, datasets, python-dotenv), then runs cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in bash zsh fish dash shellcheck setpriv flock patch busybox wget curl ruby; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ "${#need[@]}" -gt 0 ]; then
  pkgs=()
  for tool in "${need[@]}"; do
    case "$tool" in
      setpriv | flock) pkgs+=(util-linux) ;;
      *) pkgs+=("$tool") ;;
    esac
  done
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${pkgs[*]} with apt-get" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

# The differential test's venvs (transformers 4.x and 5.x, mlx-lm where it installs), built
# in the background while the main one is checked; cached under target/diff-venv.
scripts/diff-venvs.sh &
diff_venvs=$!

venv="${MODELENV_TEST_VENV:-$PWD/target/test-venv}"
# Made again when the requirements change (tests/dotenv.rs needs the pinned python-dotenv).
if ! cmp -s scripts/test-requirements.txt "$venv/requirements.txt" ||
  ! "$venv/bin/python" -c 'import huggingface_hub, datasets, dotenv, yaml, ruamel.yaml' 2>/dev/null; then
  echo "creating the test Python environment in $venv" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
  cp scripts/test-requirements.txt "$venv/requirements.txt"
fi
export MODELENV_TEST_PYTHON="$venv/bin/python"
wait "$diff_venvs"

# The multi-user tests (tests/share.rs) run Python as other users, who cannot reach an
# interpreter under root's home (pyenv): a second environment from the system interpreter,
# in a folder every user can read.
if [ "$(id -u)" -eq 0 ]; then
  sysvenv="$PWD/target/test-venv-system"
  if ! setpriv --reuid nobody --regid nogroup --clear-groups test -r "$PWD/scripts/test.sh" 2>/dev/null; then
    sysvenv=/var/tmp/modelenv-test-venv-system
  fi
  if ! setpriv --reuid nobody --regid nogroup --clear-groups "$sysvenv/bin/python" -c 'import huggingface_hub' 2>/dev/null; then
    echo "creating the system Python environment for the multi-user tests in $sysvenv" >&2
    if ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    fi
    rm -rf "$sysvenv"
    /usr/bin/python3 -m venv "$sysvenv"
    "$sysvenv/bin/pip" install --quiet --disable-pip-version-check huggingface_hub
    chmod -R a+rX "$sysvenv"
  fi
  export MODELENV_TEST_SYSTEM_PYTHON="$sysvenv/bin/python"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --no-fail-fast --lib --tests "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
