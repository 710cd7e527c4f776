#!/bin/sh
# Writes a Homebrew formula for modelenv to stdout, from the release archives in DIST
# (scripts/dist.sh output: modelenv-<target>.tar.gz and its .sha256, for every target below).
#   scripts/brew-formula.sh DIST [VERSION]   [default VERSION: Cargo.toml's]
# Each archive's sha256 is computed here and must equal its .sha256 file. The URLs are the
# release downloads install.sh and cargo binstall use: <repository>/releases/download/vVERSION/.
# For a tap: save the output as Formula/modelenv.rb in a repository named homebrew-<tap>.
set -eu
cd "$(dirname "$0")/.."

die() {
    printf 'brew-formula.sh: error: %s\n' "$*" >&2
    exit 2
}

[ "$#" -ge 1 ] || die "usage: scripts/brew-formula.sh DIST [VERSION]"
dist="$1"
version="${2:-$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)}"
version="${version#v}"
repo=$(sed -n 's/^repository = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
[ -n "$version" ] || die "no version given and none in Cargo.toml"
[ -n "$repo" ] || die "Cargo.toml names no repository"
base="$repo/releases/download/v$version"

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        die "neither sha256sum nor shasum is installed"
    fi
}

# sha256 of DIST/modelenv-TARGET.tar.gz, checked against its .sha256 file.
checked_sha() {
    name="modelenv-$1.tar.gz"
    [ -f "$dist/$name" ] || die "$dist/$name is missing: the formula needs every target's archive (the release workflow builds them)"
    [ -f "$dist/$name.sha256" ] || die "$dist/$name.sha256 is missing"
    want=$(cut -d ' ' -f 1 <"$dist/$name.sha256")
    have=$(sha256_of "$dist/$name")
    [ "$want" = "$have" ] || die "$name does not match $name.sha256 (file $have, listed $want): rebuild it with scripts/dist.sh"
    printf '%s\n' "$have"
}

# Computed before the formula is written: a failure here stops the script.
sha_mac_arm=$(checked_sha aarch64-apple-darwin)
sha_mac_intel=$(checked_sha x86_64-apple-darwin)
sha_linux_arm=$(checked_sha aarch64-unknown-linux-gnu)
sha_linux_intel=$(checked_sha x86_64-unknown-linux-gnu)

cat <<EOF
# Written by scripts/brew-formula.sh from the v$version release archives; do not edit.
class Modelenv < Formula
  desc "Central, verified storage for Hugging Face, MLX and Ollama models"
  homepage "$repo"
  version "$version"
  license "MIT"

  on_macos do
    on_arm do
      url "$base/modelenv-aarch64-apple-darwin.tar.gz"
      sha256 "$sha_mac_arm"
    end
    on_intel do
      url "$base/modelenv-x86_64-apple-darwin.tar.gz"
      sha256 "$sha_mac_intel"
    end
  end

  on_linux do
    on_arm do
      url "$base/modelenv-aarch64-unknown-linux-gnu.tar.gz"
      sha256 "$sha_linux_arm"
    end
    on_intel do
      url "$base/modelenv-x86_64-unknown-linux-gnu.tar.gz"
      sha256 "$sha_linux_intel"
    end
  end

  def install
    bin.install "modelenv"
    bash_completion.install "completions/modelenv.bash" => "modelenv"
    zsh_completion.install "completions/_modelenv"
    fish_completion.install "completions/modelenv.fish"
  end

  def caveats
    <<~EOS
      Point your shells and libraries at one model store:
        modelenv install
    EOS
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/modelenv --version")
  end
end
EOF
