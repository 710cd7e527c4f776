#!/bin/sh
# modelenv installer: curl -fsSL <release-url>/install.sh | sh
#
# Downloads the prebuilt binary for this machine, checks its sha256, installs it into
# ~/.local/bin (or --to DIR), then runs `modelenv install`, which writes the model-storage
# exports to your shell's startup files and runs the doctor. Undo: `modelenv uninstall`, then
# delete the binary. From a source checkout it builds with cargo instead.
#
# The whole script is one brace group: if the download stops part-way, the shell sees an
# unfinished group and runs nothing.
{
set -u

MODELENV_DEFAULT_DIST_URL="https://github.com/modelenv/modelenv/releases/latest/download"

say() {
    printf 'modelenv-install: %s\n' "$*" >&2
}

err() {
    say "error: $*"
    exit 1
}

usage() {
    cat <<'USAGE'
Install modelenv and set up central model storage.

Usage: install.sh [OPTIONS]

Options:
  --version V          install release V instead of the latest
  --to DIR             install the binary into DIR [default: ~/.local/bin]
  --from-source        build with cargo from this checkout
  --shell SHELL        configure this shell (bash, zsh or fish); repeatable [default: $SHELL]
  --no-modify-profile  leave shell startup files alone
  -y, --yes            ask nothing
  -h, --help           show this help

Environment:
  MODELENV_DIST_URL     where release archives are downloaded from
  MODELENV_INSTALL_DIR  same as --to
USAGE
}

need() {
    command -v "$1" >/dev/null 2>&1 || err "this installer needs '$1'"
}

# The Rust target triple of this machine.
detect_target() {
    _os=$(uname -s)
    _arch=$(uname -m)
    case "$_arch" in
        x86_64 | amd64) _arch=x86_64 ;;
        aarch64 | arm64) _arch=aarch64 ;;
        *) err "no modelenv build for the $_arch processor; build from source with cargo" ;;
    esac
    case "$_os" in
        Linux) printf '%s-unknown-linux-gnu\n' "$_arch" ;;
        Darwin) printf '%s-apple-darwin\n' "$_arch" ;;
        *) err "no modelenv build for $_os; build from source with cargo" ;;
    esac
}

# download URL FILE: with curl, else wget.
download() {
    if command -v curl >/dev/null 2>&1; then
        curl --proto '=https,http' -fsSL "$1" -o "$2"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
    else
        err "neither curl nor wget is installed"
    fi
}

# sha256 of FILE, with sha256sum or shasum; neither: refuse.
sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        err "cannot verify the download: neither sha256sum nor shasum is installed"
    fi
}

# The sudo mistake: the installer works for the user who runs it, in their HOME.
check_user() {
    if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "${SUDO_USER}" != root ]; then
        err "do not run the installer with sudo: it installs for your user, into \$HOME. Run it again without sudo"
    fi
    [ -n "${HOME:-}" ] || err "HOME is not set"
    if [ ! -d "$HOME" ] || [ ! -w "$HOME" ]; then
        err "HOME ($HOME) is not a writable folder"
    fi
}

# True when this script runs from a modelenv source checkout.
in_checkout() {
    case "$0" in
        */install.sh) [ -f "${0%/install.sh}/Cargo.toml" ] && grep -q '^name = "modelenv"' "${0%/install.sh}/Cargo.toml" ;;
        *) return 1 ;;
    esac
}

install_from_source() {
    if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
        err "building from source needs Rust (cargo and rustc): install it with rustup, open a new shell, then run this again"
    fi
    _src="${0%/install.sh}"
    say "building from source in $_src"
    _host=$(rustc -vV | sed -n 's/^host: //p')
    # Linux builds are static: `modelenv init` then starts without dynamic loader work.
    case "$_host" in
        *-linux-gnu) _flags="${RUSTFLAGS:-} -C target-feature=+crt-static" ;;
        *) _flags="${RUSTFLAGS:-}" ;;
    esac
    # The binary is where cargo says it put it (CARGO_TARGET_DIR, cargo's configuration), read
    # from its JSON messages on stdout; its errors still go to stderr.
    _json=$(RUSTFLAGS="$_flags" cargo build --release --locked --bin modelenv --target "$_host" \
        --manifest-path "$_src/Cargo.toml" --message-format=json-render-diagnostics) ||
        err "the build failed (cargo's errors are above); nothing was installed"
    _bin=$(printf '%s\n' "$_json" | grep '"reason":"compiler-artifact"' | grep '"kind":\["bin"\]' |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
    case "$_bin" in
        "") err "cargo built no modelenv binary that it reported; nothing was installed" ;;
        *\\*) err "cargo's build folder ($_bin) has a backslash or quote in its path; set CARGO_TARGET_DIR to a plain path" ;;
    esac
    [ -f "$_bin" ] || err "cargo reported $_bin, which is not a file; nothing was installed"
    put_binary "$_bin" "$1"
}

# put_binary FILE DIR: DIR/modelenv becomes a copy of FILE, replaced in one rename.
put_binary() {
    mkdir -p "$2" || err "cannot create the folder $2"
    if ! cp "$1" "$2/modelenv.tmp" || ! chmod 755 "$2/modelenv.tmp"; then
        rm -f "$2/modelenv.tmp"
        err "cannot copy $1 to $2/modelenv.tmp"
    fi
    mv "$2/modelenv.tmp" "$2/modelenv" || err "cannot rename $2/modelenv.tmp to $2/modelenv"
}

install_release() {
    _dir="$1"
    _version="$2"
    _target=$(detect_target)
    _base="${MODELENV_DIST_URL:-$MODELENV_DEFAULT_DIST_URL}"
    if [ -n "$_version" ] && [ -z "${MODELENV_DIST_URL:-}" ]; then
        _base="https://github.com/modelenv/modelenv/releases/download/v${_version#v}"
    fi
    _name="modelenv-$_target.tar.gz"
    _tmp=$(mktemp -d) || err "cannot create a temporary folder"
    # shellcheck disable=SC2064 # expand now: the folder is fixed
    trap "rm -rf '$_tmp'" EXIT
    say "downloading $_base/$_name"
    download "$_base/$_name" "$_tmp/$_name" || err "no prebuilt modelenv for $_target at $_base; clone the repository and run ./install.sh --from-source"
    download "$_base/$_name.sha256" "$_tmp/$_name.sha256" || err "the checksum file $_name.sha256 is missing at $_base"
    _want=$(cut -d ' ' -f 1 <"$_tmp/$_name.sha256")
    _have=$(sha256_of "$_tmp/$_name")
    if [ -z "$_want" ] || [ "$_want" != "$_have" ]; then
        err "checksum mismatch for $_name (expected $_want, got $_have): the download is corrupt or was tampered with; nothing was installed"
    fi
    need tar
    mkdir "$_tmp/x" || err "cannot create a temporary folder"
    tar -xzf "$_tmp/$_name" -C "$_tmp/x" || err "cannot unpack $_name"
    [ -f "$_tmp/x/modelenv" ] || err "$_name holds no modelenv binary"
    put_binary "$_tmp/x/modelenv" "$_dir"
}

# quote_sh WORD: WORD in single quotes for sh, bash and zsh.
quote_sh() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# quote_fish WORD: WORD in single quotes for fish (which escapes \\ and \' inside them).
quote_fish() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/[\\\\']/\\\\&/g")"
}

# path_command DIR: the command that puts DIR in front of PATH in the user's shell ($SHELL).
# shellcheck disable=SC2016 # $PATH and $HOME are for the user's shell to expand
path_command() {
    case "${SHELL:-}" in
        */fish) printf 'set -gx PATH %s $PATH\n' "$(quote_fish "$1")" ;;
        */csh | */tcsh) printf 'setenv PATH %s:"$PATH"\n' "$(quote_sh "$1")" ;;
        *)
            if [ "$1" = "$HOME/.local/bin" ]; then
                printf 'export PATH="$HOME/.local/bin:$PATH"\n'
            else
                printf 'export PATH=%s:"$PATH"\n' "$(quote_sh "$1")"
            fi
            ;;
    esac
}

main() {
    _to="${MODELENV_INSTALL_DIR:-}"
    _version=""
    _source=""
    _pass=""
    while [ "$#" -gt 0 ]; do
        case "$1" in
            --version) [ "$#" -ge 2 ] || err "--version needs a value"; _version="$2"; shift ;;
            --to) [ "$#" -ge 2 ] || err "--to needs a folder"; _to="$2"; shift ;;
            --from-source) _source=1 ;;
            --shell) [ "$#" -ge 2 ] || err "--shell needs a value"; _pass="$_pass --shell $2"; shift ;;
            --no-modify-profile) _pass="$_pass --no-modify-profile" ;;
            -y | --yes) ;;
            -h | --help) usage; return 0 ;;
            *) usage >&2; err "unknown option $1" ;;
        esac
        shift
    done
    check_user
    [ -n "$_to" ] || _to="$HOME/.local/bin"
    # Absolute: the from-source path changes folder before running it, and PATH needs it so.
    case "$_to" in
        /*) ;;
        *) _to="$(pwd)/$_to" ;;
    esac
    if [ -n "$_source" ] || in_checkout; then
        install_from_source "$_to"
        # The checkout is modelenv's own repository, not one whose .env.example to manage.
        cd "$HOME" || err "cannot enter $HOME"
    else
        install_release "$_to" "$_version"
    fi
    say "installed $_to/modelenv"
    # The shells, --no-modify-profile and --yes go through; modelenv asks nothing. The
    # managed block puts $_to on PATH in every shell it configures that lacks it.
    # shellcheck disable=SC2086 # _pass holds separate words on purpose
    "$_to/modelenv" install $_pass --bin-dir "$_to" --yes </dev/null
    case "$?" in
        0) ;;
        1) say "installed; the doctor found problems, listed above with their fixes" ;;
        *) err "modelenv install failed" ;;
    esac
    case ":${PATH:-}:" in
        *":$_to:"*) ;;
        *)
            case "$_pass" in
                *--no-modify-profile*) say "$_to is not on PATH: to use modelenv in this shell, run the line below, and add it to your shell's startup file for the next ones" ;;
                *) say "$_to is not on this shell's PATH: to use modelenv in this shell now, run" ;;
            esac
            # Alone on stdout's last line: the one command to copy.
            path_command "$_to"
            ;;
    esac
}

main "$@"
}
