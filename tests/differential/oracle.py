"""Where the real libraries put a download, measured through their own entry points.

Run by tests/doctor_differential.rs with one venv's interpreter:

    python -P oracle.py CASES.json LIBS OUT.json

CASES.json: {"cases": [{"id": N, "home": DIR, "cwd": DIR, "csv": FILE, "env": {NAME: VALUE}}]}.
LIBS: comma-separated subset of huggingface_hub, transformers, datasets, mlx_lm.

For each case a forked child gets exactly the case's environment (HOME, PATH and the case's
variables; nothing else), moves to the case's folder, imports the libraries fresh and downloads
through their public entry points: `hf_hub_download`, transformers' `cached_file`, mlx-lm's
`_download` (its `load` without the weights), and a real `load_dataset("csv", ...)`. The Hub is
a local HTTP server (HF_ENDPOINT) that serves one small file for any repo, so nothing leaves the
machine. The answer for each library is the cache folder the file really landed in
(`os.path.realpath`), or the error it raised.
"""

import hashlib
import http.server
import json
import os
import sys
import threading
import traceback

COMMIT = "0123456789abcdef0123456789abcdef01234567"
CONTENT = b'{"model_type": "bert"}\n'
ETAG = hashlib.sha1(b"blob %d\0" % len(CONTENT) + CONTENT).hexdigest()
LOG = []


class FakeHub(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _file(self, body):
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", '"%s"' % ETAG)
        self.send_header("Content-Length", str(len(CONTENT)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if body:
            self.wfile.write(CONTENT)

    def _json(self, obj):
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, body):
        path = self.path.split("?")[0]
        parts = path.strip("/").split("/")
        if "resolve" in parts:
            return self._file(body)
        if parts[:1] == ["api"] and "revision" in parts:
            repo = "/".join(parts[2:parts.index("revision")])
            return self._json({"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                               "siblings": [{"rfilename": "config.json"}]})
        if parts[:1] == ["api"] and "tree" in parts:
            return self._json([{"type": "file", "path": "config.json", "size": len(CONTENT), "oid": ETAG}])
        LOG.append(self.command + " " + self.path)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        self._route(False)

    def do_GET(self):
        self._route(True)


def cache_root(path, marker):
    """The folder holding `marker` (`models--org--name`, `csv`) in a downloaded file's path."""
    path = os.path.realpath(path)
    parts = path.split(os.sep)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == marker or marker.endswith("-") and parts[i].startswith(marker):
            return os.sep.join(parts[:i]) or os.sep
    raise RuntimeError("no %s in %s" % (marker, path))


def measure(case, libs, endpoint):
    out = {}
    n = case["id"]
    for lib in libs:
        try:
            if lib == "huggingface_hub":
                from huggingface_hub import hf_hub_download

                p = hf_hub_download("org/hub-%d" % n, "config.json")
                out[lib] = cache_root(p, "models--org--hub-")
            elif lib == "transformers":
                from transformers.utils.hub import cached_file

                p = cached_file("org/tf-%d" % n, "config.json")
                out[lib] = cache_root(p, "models--org--tf-")
            elif lib == "mlx_lm":
                from mlx_lm.utils import _download

                p = _download("org/mlx-%d" % n, allow_patterns=["config.json"])
                out[lib] = cache_root(os.path.join(p, "config.json"), "models--org--mlx-")
            elif lib == "datasets":
                from datasets import load_dataset

                ds = load_dataset("csv", data_files=case["csv"], split="train")
                files = [f["filename"] for f in ds.cache_files]
                out[lib] = cache_root(files[0], "csv")
        except BaseException as e:  # the library's own failure is part of the answer
            out[lib] = {"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()[-2000:]}
    return out


def main():
    cases = json.load(open(sys.argv[1]))["cases"]
    libs = [l for l in sys.argv[2].split(",") if l]
    out_path = sys.argv[3]
    jobs = int(os.environ.get("ORACLE_JOBS", "2"))
    # Dependencies that read no Hugging Face variable, imported once before forking so each
    # child only executes the libraries themselves.
    for mod in ("numpy", "pyarrow", "pyarrow.parquet", "pandas", "fsspec", "requests", "httpx",
                "filelock", "tqdm", "yaml", "multiprocess", "dill", "xxhash", "aiohttp",
                "safetensors", "tokenizers", "regex", "jinja2", "mlx.core", "mlx.nn"):
        try:
            __import__(mod)
        except Exception:
            pass
    for mod in list(sys.modules):
        if mod.split(".")[0] in ("huggingface_hub", "transformers", "datasets", "mlx_lm"):
            raise SystemExit("oracle: %s was imported before forking" % mod)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = "http://127.0.0.1:%d" % server.server_address[1]
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HF_ENDPOINT": endpoint,
            "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_XET": "1", "TRANSFORMERS_VERBOSITY": "error",
            "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "TOKENIZERS_PARALLELISM": "false"}
    results = {}
    running = {}
    todo = list(cases)
    while todo or running:
        while todo and len(running) < jobs:
            case = todo.pop(0)
            rfd, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(rfd)
                code = 0
                try:
                    os.environ.clear()
                    os.environ.update(base)
                    os.environ["HOME"] = case["home"]
                    os.environ.update(case["env"])
                    os.chdir(case["cwd"])
                    data = json.dumps(measure(case, libs, endpoint)).encode()
                    with os.fdopen(wfd, "wb") as w:
                        w.write(data)
                except BaseException:
                    traceback.print_exc()
                    code = 1
                os._exit(code)
            os.close(wfd)
            # Read in a thread so a large answer never blocks the child.
            chunks = []

            def reader(fd=rfd, chunks=chunks):
                while True:
                    c = os.read(fd, 65536)
                    if not c:
                        break
                    chunks.append(c)
                os.close(fd)

            t = threading.Thread(target=reader)
            t.start()
            running[pid] = (case["id"], t, chunks)
        pid, status = os.wait()
        if pid not in running:
            continue
        cid, t, chunks = running.pop(pid)
        t.join()
        try:
            results[cid] = json.loads(b"".join(chunks) or b"null")
        except ValueError:
            results[cid] = None
        if results[cid] is None:
            results[cid] = {"child_failed": status}
    with open(out_path, "w") as f:
        json.dump({"results": results, "unexpected_requests": LOG,
                   "versions": versions(libs)}, f)


def versions(libs):
    from importlib.metadata import version

    out = {}
    for lib in libs + ["huggingface_hub"]:
        try:
            out[lib] = version(lib.replace("_", "-") if lib == "mlx_lm" else lib)
        except Exception:
            out[lib] = None
    return out


if __name__ == "__main__":
    main()
