#!/usr/bin/env bash
# Bytes read to match a `--local-dir` download with the central hub cache. A SIZE_MB (default
# 1000, decimal: 1 GB) weights file is in the central cache (models--org--big) and in a local-dir download
# written by huggingface_hub's own `_local_folder` functions (real metadata files) in
# CUSTOM_MODEL_DIR. The etag in the metadata is the central blob's name, so `modelenv usage`
# and `modelenv scan` must match it reading no file data. For contrast, the same copy without
# its metadata (a plain folder) has to be hashed to be matched.
# Bytes read are the process's `rchar` (every read() of the process and its threads, page
# cache hits included), taken from /proc/<pid>/io once it has exited and before it is reaped.
#   scripts/bench-local-dir.sh [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-1000}"
py="${MODELENV_TEST_PYTHON:-$PWD/target/test-venv/bin/python}"
"$py" -c 'import huggingface_hub' 2>/dev/null ||
  { echo "needs a Python with huggingface_hub: scripts/test.sh builds target/test-venv" >&2; exit 2; }
cargo build --quiet
me="$PWD/target/debug/modelenv"
work=$(mktemp -d "$PWD/target/bench-local-dir.XXXX")
trap 'rm -rf "$work"' EXIT
export HOME="$work/home"
mkdir -p "$HOME"

commit=0123456789abcdef0123456789abcdef01234567
hub="$HOME/.cache/huggingface/hub/models--org--big"
mkdir -p "$hub/blobs" "$hub/snapshots/$commit" "$hub/refs"
printf '%s' "$commit" > "$hub/refs/main"
head -c "$((size_mb * 1000000))" /dev/urandom > "$work/w"
sha=$(sha256sum "$work/w" | cut -d' ' -f1)
cp "$work/w" "$hub/blobs/$sha"
ln -s "../../blobs/$sha" "$hub/snapshots/$commit/model.safetensors"

local_dir="$HOME/models/big"
"$py" - "$local_dir" "$work/w" "$commit" "$sha" <<'EOF'
import shutil, sys
from pathlib import Path
from huggingface_hub import _local_folder as lf
local_dir, src, commit, etag = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
paths = lf.get_local_download_paths(local_dir, "model.safetensors")
shutil.move(src, paths.file_path)  # what hf_hub_download does with the finished download
lf.write_download_metadata(local_dir, "model.safetensors", commit, etag)
assert lf.read_download_metadata(local_dir, "model.safetensors").etag == etag
EOF
echo "central blob and local-dir copy: $(du -sh --apparent-size "$local_dir/model.safetensors" | cut -f1) each"

# Runs modelenv with the given arguments; prints its rchar, keeps its stdout in $work/out.
rchar() {
  "$py" - "$me" "$@" <<'EOF'
import os, subprocess, sys
with open(os.environ["OUT"], "wb") as out:
    p = subprocess.Popen(sys.argv[1:], stdout=out)
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    io = dict(l.split(": ") for l in open(f"/proc/{p.pid}/io").read().splitlines())
    p.wait()
print(int(io["rchar"]))
EOF
}
export OUT="$work/out"
field() { python3 -c "import json,sys; d=json.load(open('$OUT')); print($1)"; }

n=$(rchar usage --json --no-hash-cache)
echo "modelenv usage (local-dir download):    read $n bytes; hidden copy $(field 'd["hidden_copies"]["local_dir_downloads"][0]["repo"]'), dedupe frees $(field 'd["hidden_copies"]["dedupe_bytes"]') bytes, duplicate_bytes $(field 'd["reclaimable"]["duplicate_bytes"]')"

mkdir -p "$work/repo/.git" "$work/repo/models"
mv "$local_dir" "$work/repo/models/big"
n=$(cd "$work/repo" && rchar scan --json)
echo "modelenv scan (local-dir in a project):  read $n bytes; in central $(field 'd["local_dir_downloads"][0]["in_central_bytes"]') bytes, savings $(field 'd["reclaimable_bytes"]') bytes"

# Contrast: the same copy with no download metadata is matched by hashing it.
mv "$work/repo/models/big" "$local_dir"
rm -rf "$local_dir/.cache"
n=$(rchar usage --json --no-hash-cache)
echo "modelenv usage (same copy, no metadata): read $n bytes; duplicate_bytes $(field 'd["reclaimable"]["duplicate_bytes"]')"
