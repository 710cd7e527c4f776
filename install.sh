#!/bin/sh
# modelenv installer (placeholder until release downloads exist): builds from this checkout.
set -eu

main() {
    cd "$(dirname "$0")"
    cargo install --locked --path . "$@"
    modelenv install
}

main "$@"
