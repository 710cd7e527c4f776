#!/bin/sh
# Regenerates the committed shell completions from the CLI definition.
set -eu
cd "$(dirname "$0")/.."
cargo build --quiet
bin=target/debug/modelenv
"$bin" completions bash > completions/modelenv.bash
"$bin" completions zsh > completions/_modelenv
"$bin" completions fish > completions/modelenv.fish
