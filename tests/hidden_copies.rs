//! Hidden copies: `--local-dir` downloads written by huggingface_hub's own local-folder
//! functions (real metadata files) next to a central hub cache holding the same blobs.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::TestEnv;
use common::fixtures::{self, Hub};
use serde_json::{Value, json};

/// huggingface_hub's `_local_folder` functions, driven from the tests. `write` stores each
/// file where `get_local_download_paths` says and records it with `write_download_metadata`,
/// exactly as `hf_hub_download(local_dir=…)` does after a download; `age` runs it with the
/// clock and the files set that many seconds back (a download made earlier). `read` returns
/// what `read_download_metadata` gives for each file.
const LOCAL_FOLDER: &str = r#"
import json, os, sys, time
from pathlib import Path
from huggingface_hub import _local_folder as lf
op, local_dir = sys.argv[1], Path(sys.argv[2])
if op == "write":
    commit, age, specs = sys.argv[3], float(sys.argv[4]), json.loads(sys.argv[5])
    then = time.time() - age
    real_time = time.time
    for filename, etag, src in specs:
        paths = lf.get_local_download_paths(local_dir, filename)
        paths.file_path.write_bytes(Path(src).read_bytes())
        os.utime(paths.file_path, (then, then))
        time.time = lambda: then
        lf.write_download_metadata(local_dir, filename, commit, etag)
        time.time = real_time
else:
    out = {}
    for filename in json.loads(sys.argv[3]):
        m = lf.read_download_metadata(local_dir, filename)
        out[filename] = None if m is None else [m.commit_hash, m.etag]
    print(json.dumps(out))
"#;

fn py(args: &[&str]) -> String {
    let out = Command::new(common::python())
        .arg("-c")
        .arg(LOCAL_FOLDER)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "huggingface_hub local folder helper failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A repo file: its path in the repo, content, and whether it is stored with LFS.
struct RepoFile {
    name: &'static str,
    data: Vec<u8>,
    lfs: bool,
}

impl RepoFile {
    fn etag(&self) -> String {
        if self.lfs {
            fixtures::sha256_hex(&self.data)
        } else {
            fixtures::git_sha1_hex(&self.data)
        }
    }
}

fn repo_files() -> Vec<RepoFile> {
    vec![
        RepoFile {
            name: "config.json",
            data: br#"{"model_type": "llama"}"#.to_vec(),
            lfs: false,
        },
        RepoFile {
            name: "model.safetensors",
            data: (0..400_000u32).map(|i| (i % 251) as u8).collect(),
            lfs: true,
        },
        RepoFile {
            name: "sub/adapter.safetensors",
            data: vec![7u8; 120_000],
            lfs: true,
        },
    ]
}

/// Writes a local-dir download of `files` at `commit` into `dir`, `age` seconds ago.
fn local_dir_download(env: &TestEnv, dir: &Path, commit: &str, files: &[RepoFile], age: u64) {
    let src = env.tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let specs: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let p = src.join(i.to_string());
            fs::write(&p, &f.data).unwrap();
            json!([f.name, f.etag(), p])
        })
        .collect();
    py(&[
        "write",
        dir.to_str().unwrap(),
        commit,
        &age.to_string(),
        &serde_json::to_string(&specs).unwrap(),
    ]);
}

fn read_metadata(dir: &Path, files: &[RepoFile]) -> Value {
    let names: Vec<&str> = files.iter().map(|f| f.name).collect();
    serde_json::from_str(&py(&[
        "read",
        dir.to_str().unwrap(),
        &serde_json::to_string(&names).unwrap(),
    ]))
    .unwrap()
}

/// The central hub cache holding `id` at `commit` with `files`.
fn central(env: &TestEnv, id: &str, commit: &str, files: &[RepoFile]) -> PathBuf {
    let hub = Hub::new(&env.home.join(".cache/huggingface/hub"));
    let repo = hub.repo("model", id);
    let fx: Vec<fixtures::File> = files
        .iter()
        .map(|f| fixtures::File {
            path: f.name,
            data: &f.data,
            lfs: f.lfs,
        })
        .collect();
    repo.snapshot(commit, &fx);
    repo.git_ref("main", commit);
    repo.path
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

fn total(files: &[RepoFile]) -> u64 {
    files.iter().map(|f| f.data.len() as u64).sum()
}

#[test]
fn scan_reports_a_local_dir_download_with_its_repo_commit_and_central_matches() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    central(&env, "org/tiny-llama", &commit, &files[..2]);
    let dl = env.repo.join("models/tiny");
    local_dir_download(&env, &dl, &commit, &files, 0);

    let r = json_of(&env.ok(&["scan", "--json"]));
    let caches = r["caches"].as_array().unwrap();
    // The download is one copy, not a `.cache/huggingface` cache plus loose weights.
    assert_eq!(caches.len(), 1, "{r:#}");
    assert_eq!(caches[0]["kind"], "local-dir");
    assert_eq!(caches[0]["path"], dl.display().to_string());
    let d = &r["local_dir_downloads"][0];
    assert_eq!(d["repo"], "org/tiny-llama");
    assert_eq!(d["repo_type"], "model");
    assert_eq!(d["commits"], json!([commit]));
    assert_eq!(d["bytes"], total(&files));
    // config.json and the weights are central (matched by etag); the adapter is not.
    let not_central = files[2].data.len() as u64;
    assert_eq!(d["in_central_bytes"], total(&files) - not_central);
    assert_eq!(d["not_in_central_bytes"], not_central);
    let by_name = |n: &str| {
        d["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["filename"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("model.safetensors")["etag"], files[1].etag());
    assert!(
        by_name("model.safetensors")["central"]
            .as_str()
            .unwrap()
            .ends_with(&format!("blobs/{}", files[1].etag()))
    );
    assert!(by_name("sub/adapter.safetensors")["central"].is_null());
    // Savings: the bytes the central store already holds.
    assert_eq!(r["reclaimable_bytes"], total(&files) - not_central);
}

#[test]
fn a_file_changed_since_its_download_is_not_matched_by_its_etag() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    central(&env, "org/tiny-llama", &commit, &files);
    let dl = env.repo.join("models/tiny");
    local_dir_download(&env, &dl, &commit, &files, 100);
    // Edited in place after the download: same size, other bytes, a later mtime.
    let w = dl.join("model.safetensors");
    let mut data = fs::read(&w).unwrap();
    data[0] ^= 1;
    fs::write(&w, &data).unwrap();
    assert!(read_metadata(&dl, &files)["model.safetensors"].is_null());

    let r = json_of(&env.ok(&["scan", "--json"]));
    let d = &r["local_dir_downloads"][0];
    let f = d["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == "model.safetensors")
        .unwrap();
    assert_eq!(f["metadata_valid"], false);
    assert!(f["central"].is_null());
    assert_eq!(d["not_in_central_bytes"], files[1].data.len() as u64);
}

#[test]
fn usage_lists_local_dir_downloads_in_the_custom_folder_as_hidden_copies() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    central(&env, "org/tiny-llama", &commit, &files[..2]);
    let dl = env.home.join("models/tiny-llama");
    local_dir_download(&env, &dl, &commit, &files, 0);

    let r = json_of(&env.ok(&["usage", "--json", "--no-hash-cache"]));
    let h = &r["hidden_copies"];
    assert_eq!(
        h["local_dir_downloads"][0]["path"],
        dl.display().to_string()
    );
    assert_eq!(h["local_dir_downloads"][0]["repo"], "org/tiny-llama");
    let in_central = total(&files[..2]);
    assert_eq!(h["dedupe_bytes"], in_central);
    assert_eq!(h["migrate_bytes"], files[2].data.len() as u64);
    // The download is one model of the custom store, and its central files are duplicates.
    let m = r["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["store"] == "custom")
        .unwrap();
    assert_eq!(m["type"], "local-dir");
    assert_eq!(m["bytes"], total(&files));
    assert_eq!(r["reclaimable"]["duplicate_bytes"], in_central);
    let human = common::stdout(&env.ok(&["usage", "--no-hash-cache"]));
    assert!(human.contains("Hidden copies"), "{human}");
    assert!(human.contains("org/tiny-llama"), "{human}");
}

#[test]
fn dedupe_links_local_dir_files_to_central_blobs_and_keeps_their_metadata_valid() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    // The local-dir download is an hour old; the central blobs were downloaded since, so a
    // plain link (which takes the blob's mtime) would make huggingface_hub reject the metadata.
    let dl = env.home.join("models/tiny-llama");
    local_dir_download(&env, &dl, &commit, &files, 3600);
    let repo = central(&env, "org/tiny-llama", &commit, &files);
    assert_eq!(
        read_metadata(&dl, &files)["model.safetensors"],
        json!([commit, files[1].etag()])
    );

    let dry = json_of(&env.ok(&["dedupe", "--json"]));
    assert_eq!(dry["freed_bytes"], total(&files));
    let r = json_of(&env.ok(&["dedupe", "--apply", "--json"]));
    assert_eq!(r["freed_bytes"], total(&files), "{r:#}");
    for f in &files {
        let local = dl.join(f.name);
        let blob = repo.join("blobs").join(f.etag());
        assert_eq!(
            fs::metadata(&local).unwrap().ino(),
            fs::metadata(&blob).unwrap().ino(),
            "{} is not a link of its blob",
            f.name
        );
        assert_eq!(fs::read(&local).unwrap(), f.data);
        assert_eq!(
            fs::metadata(&local).unwrap().mode() & 0o222,
            0,
            "{} is still writable",
            f.name
        );
    }
    // A user's program that rewrites the file in place (`cp` onto it, a save to the same
    // path) would rewrite the central blob through the link: it is refused instead. (Run as
    // another user, which needs root to set up.)
    let local = dl.join(files[1].name);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        use std::os::unix::fs::PermissionsExt;
        for p in [env.tmp.path(), &env.home, &env.home.join("models"), &dl] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::os::unix::fs::chown(&local, Some(65534), Some(65534)).unwrap();
        let w = Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .args(["sh", "-c", "printf 'fine-tuned' > \"$0\""])
            .arg(&local)
            .output()
            .unwrap();
        assert!(
            !w.status.success(),
            "the user rewrote a linked file in place"
        );
        assert_eq!(
            fs::read(repo.join("blobs").join(files[1].etag())).unwrap(),
            files[1].data
        );
    } else {
        eprintln!("skipped the write as another user: needs root");
    }
    let after = read_metadata(&dl, &files);
    for f in &files {
        assert_eq!(after[f.name], json!([commit, f.etag()]), "{}", f.name);
    }
    // A second run finds nothing to do.
    let again = json_of(&env.ok(&["dedupe", "--json"]));
    assert_eq!(again["freed_bytes"], 0);
    let r = json_of(&env.ok(&["usage", "--json", "--no-hash-cache"]));
    let d = &r["hidden_copies"]["local_dir_downloads"][0];
    assert_eq!(d["linked_bytes"], total(&files));
    assert_eq!(d["in_central_bytes"], 0);
}

#[test]
fn dedupe_leaves_a_file_whose_metadata_names_other_content() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let dl = env.home.join("models/tiny-llama");
    local_dir_download(&env, &dl, &commit, &files, 3600);
    central(&env, "org/tiny-llama", &commit, &files);
    // The user replaced the adapter by the weights' bytes: the same content as a central
    // blob, but its metadata (outdated now) still names the adapter's etag.
    let w = dl.join("sub/adapter.safetensors");
    fs::write(&w, &files[1].data).unwrap();
    assert!(read_metadata(&dl, &files)["sub/adapter.safetensors"].is_null());
    let r = json_of(&env.ok(&["dedupe", "--apply", "--json"]));
    let skipped: Vec<&Value> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["skipped"].as_array().unwrap())
        .collect();
    assert!(
        skipped.iter().any(|s| s["path"] == w.display().to_string()
            && s["reason"]
                .as_str()
                .unwrap()
                .contains("names other content")),
        "{r:#}"
    );
    // Linked, its mtime would be the blob's, older than the metadata: huggingface_hub would
    // take it for the adapter again. It stays as it was.
    assert_eq!(fs::metadata(&w).unwrap().nlink(), 1);
    assert_eq!(fs::read(&w).unwrap(), files[1].data);
    assert!(read_metadata(&dl, &files)["sub/adapter.safetensors"].is_null());
}

#[test]
fn plain_migrate_leaves_a_local_dir_download_where_it_is() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let dl = env.repo.join("models/tiny");
    local_dir_download(&env, &dl, &commit, &files, 0);
    let before = env.snapshot();
    env.ok(&["migrate", "--apply"]);
    let changed: Vec<PathBuf> = common::changed(
        &common::user_files(&before),
        &common::user_files(&env.snapshot()),
    )
    .into_iter()
    .filter(|p| p.starts_with(&env.repo))
    .collect();
    assert_eq!(changed, Vec::<PathBuf>::new());
    assert!(read_metadata(&dl, &files)["model.safetensors"].is_array());
}

/// What huggingface_hub makes of the hub cache: `try_to_load_from_cache` for each file at
/// `commit`, and the repos and warnings of `scan_cache_dir`.
const HUB_VIEW: &str = r#"
import json, sys
from huggingface_hub import try_to_load_from_cache, scan_cache_dir
cache, repo, commit, names = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
loaded = {}
for n in names:
    p = try_to_load_from_cache(repo, n, cache_dir=cache, revision=commit)
    loaded[n] = open(p, "rb").read().hex() if isinstance(p, str) else None
info = scan_cache_dir(cache)
print(json.dumps({
    "loaded": loaded,
    "repos": sorted([r.repo_id, sorted(rev.commit_hash for rev in r.revisions)] for r in info.repos),
    "warnings": [str(w) for w in info.warnings],
}))
"#;

fn hub_view(env: &TestEnv, repo: &str, commit: &str, files: &[RepoFile]) -> Value {
    let names: Vec<&str> = files.iter().map(|f| f.name).collect();
    let out = Command::new(common::python())
        .arg("-c")
        .arg(HUB_VIEW)
        .arg(env.home.join(".cache/huggingface/hub"))
        .args([repo, commit, &serde_json::to_string(&names).unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn migrate_local_dir_gives_a_repo_huggingface_hub_loads_and_keeps_the_folder() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let dl = env.repo.join("models/tiny");
    local_dir_download(&env, &dl, &commit, &files, 0);
    let dl_arg = dl.to_str().unwrap();

    // The metadata does not name the repo and the central store has none of its files.
    let out = env.run(&["migrate", "--local-dir", dl_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("--repo"));

    let before = env.snapshot();
    let dry: Value = json_of(&env.ok(&[
        "migrate",
        "--local-dir",
        dl_arg,
        "--repo",
        "org/tiny",
        "--json",
    ]));
    assert_eq!(
        common::changed(
            &common::user_files(&before),
            &common::user_files(&env.snapshot())
        ),
        Vec::<PathBuf>::new()
    );
    assert_eq!(dry["import"]["imported_bytes"], total(&files));
    let inodes_before: Vec<u64> = files
        .iter()
        .map(|f| fs::metadata(dl.join(f.name)).unwrap().ino())
        .collect();

    let r = json_of(&env.ok(&[
        "migrate",
        "--local-dir",
        dl_arg,
        "--repo",
        "org/tiny",
        "--apply",
        "--json",
    ]));
    assert_eq!(r["import"]["commit"], commit.as_str());
    let view = hub_view(&env, "org/tiny", &commit, &files);
    for f in &files {
        assert_eq!(view["loaded"][f.name], hex(&f.data), "{}", f.name);
    }
    assert_eq!(view["repos"], json!([["org/tiny", [commit]]]));
    assert_eq!(view["warnings"], json!([]));
    // The folder is as it was (same files, same inodes), each file now a blob's other name,
    // and huggingface_hub still trusts its metadata.
    let blobs = env
        .home
        .join(".cache/huggingface/hub/models--org--tiny/blobs");
    for (f, ino) in files.iter().zip(&inodes_before) {
        let m = fs::metadata(dl.join(f.name)).unwrap();
        assert_eq!(m.ino(), *ino);
        assert_eq!(fs::metadata(blobs.join(f.etag())).unwrap().ino(), *ino);
        assert_eq!(fs::read(dl.join(f.name)).unwrap(), f.data);
        // One file with two names, the central blob's among them: read-only.
        assert_eq!(m.mode() & 0o222, 0, "{} is still writable", f.name);
    }
    let meta = read_metadata(&dl, &files);
    for f in &files {
        assert_eq!(meta[f.name], json!([commit, f.etag()]));
    }
    // Run again: the repo is inferred from the central blobs now, and nothing is left to do.
    let again = json_of(&env.ok(&["migrate", "--local-dir", dl_arg, "--apply", "--json"]));
    assert_eq!(again["import"]["repo"], "org/tiny");
    assert_eq!(again["operations"], json!([]));
}

/// What offline `hf_hub_download(repo, file)` (by name, revision `main`) gives for each file:
/// its content in hex, or the exception's name.
fn offline_by_name(env: &TestEnv, repo: &str, files: &[RepoFile]) -> Value {
    let names: Vec<&str> = files.iter().map(|f| f.name).collect();
    let out = Command::new(common::python())
        .arg("-c")
        .arg(
            r#"
import json, sys
from huggingface_hub import hf_hub_download
out = {}
for n in json.loads(sys.argv[3]):
    try:
        out[n] = open(hf_hub_download(sys.argv[2], n, cache_dir=sys.argv[1]), "rb").read().hex()
    except Exception as e:
        out[n] = type(e).__name__
print(json.dumps(out))
"#,
        )
        .arg(env.home.join(".cache/huggingface/hub"))
        .args([repo, &serde_json::to_string(&names).unwrap()])
        .env("HF_HUB_OFFLINE", "1")
        .env("HOME", &env.home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An import names no ref unless asked: offline, huggingface_hub then finds the model by its
/// commit only. `--ref main` writes the ref as a download would, so offline `hf_hub_download`
/// by name serves every file; a ref that names another commit is refused, changing nothing.
#[test]
fn migrate_local_dir_with_ref_is_found_by_name_offline() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let dl = env.repo.join("models/tiny");
    local_dir_download(&env, &dl, &commit, &files, 0);
    let dl_arg = dl.to_str().unwrap();
    let args = [
        "migrate",
        "--local-dir",
        dl_arg,
        "--repo",
        "org/tiny",
        "--apply",
    ];
    let out = env.ok(&args);
    assert!(
        common::stderr(&out).contains("--ref main"),
        "{}",
        common::stderr(&out)
    );
    let found = offline_by_name(&env, "org/tiny", &files);
    assert!(
        files
            .iter()
            .all(|f| found[f.name] == "LocalEntryNotFoundError"),
        "{found:#}"
    );
    for bad in ["../x", "a//b", "."] {
        let out = env.run(&["migrate", "--local-dir", dl_arg, "--ref", bad, "--apply"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad}: {}",
            common::stderr(&out)
        );
    }
    let r = json_of(&env.ok(&[
        "migrate",
        "--local-dir",
        dl_arg,
        "--ref",
        "main",
        "--apply",
        "--json",
    ]));
    assert_eq!(r["import"]["git_ref"], "main");
    let refs = env
        .home
        .join(".cache/huggingface/hub/models--org--tiny/refs/main");
    assert_eq!(fs::read_to_string(&refs).unwrap(), commit);
    let found = offline_by_name(&env, "org/tiny", &files);
    for f in &files {
        assert_eq!(found[f.name], hex(&f.data), "{}", f.name);
    }
    assert_eq!(
        hub_view(&env, "org/tiny", &commit, &files)["warnings"],
        json!([])
    );

    // Another download of the repo, of another commit, may not move `main`.
    let other = fixtures::commit("v2");
    let dl2 = env.repo.join("models/tiny-v2");
    local_dir_download(&env, &dl2, &other, &files, 0);
    let before = env.snapshot();
    let out = env.run(&[
        "migrate",
        "--local-dir",
        dl2.to_str().unwrap(),
        "--repo",
        "org/tiny",
        "--ref",
        "main",
        "--apply",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert_eq!(
        common::changed(&before, &env.snapshot()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(fs::read_to_string(&refs).unwrap(), commit);

    // A ref written by hand with a line end names no commit for huggingface_hub: written
    // again as it writes one.
    fs::write(&refs, format!("{commit}\n")).unwrap();
    env.ok(&["migrate", "--local-dir", dl_arg, "--ref", "main", "--apply"]);
    assert_eq!(fs::read_to_string(&refs).unwrap(), commit);
    let found = offline_by_name(&env, "org/tiny", &files);
    assert_eq!(found[files[0].name], hex(&files[0].data));

    // A link at the ref (dangling, or leading out of the store) is refused before anything
    // changes, not found at the end.
    let env = TestEnv::new();
    let dl3 = env.repo.join("models/tiny-3");
    local_dir_download(&env, &dl3, &fixtures::commit("v3"), &files, 0);
    let refs3 = env
        .home
        .join(".cache/huggingface/hub/models--org--tiny3/refs");
    fs::create_dir_all(&refs3).unwrap();
    std::os::unix::fs::symlink(env.home.join("outside/victim"), refs3.join("main")).unwrap();
    let before = env.snapshot();
    let out = env.run(&[
        "migrate",
        "--local-dir",
        dl3.to_str().unwrap(),
        "--repo",
        "org/tiny3",
        "--ref",
        "main",
        "--apply",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("is not a file"),
        "{}",
        common::stderr(&out)
    );
    // (modelenv's own state folder, where its lock is, aside)
    assert_eq!(
        common::changed(
            &common::user_files(&before),
            &common::user_files(&env.snapshot())
        ),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn migrate_local_dir_infers_the_repo_and_imports_only_what_is_missing() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    central(&env, "org/tiny-llama", &commit, &files[..2]);
    let dl = env.home.join("models/tiny-llama");
    local_dir_download(&env, &dl, &commit, &files, 0);
    // Another name than the repo that holds these files, or no repo id at all: refused.
    let before = env.snapshot();
    for wrong in ["org/other", "org/na me", "org/a--b"] {
        let out = env.run(&[
            "migrate",
            "--local-dir",
            dl.to_str().unwrap(),
            "--repo",
            wrong,
            "--apply",
        ]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{wrong}: {}",
            common::stderr(&out)
        );
    }
    assert_eq!(env.user_changes(&before), Vec::<PathBuf>::new());
    let r = json_of(&env.ok(&[
        "migrate",
        "--local-dir",
        dl.to_str().unwrap(),
        "--apply",
        "--json",
    ]));
    assert_eq!(r["import"]["repo"], "org/tiny-llama");
    assert_eq!(r["import"]["imported_bytes"], files[2].data.len() as u64);
    assert_eq!(r["import"]["already_central_bytes"], total(&files[..2]));
    let view = hub_view(&env, "org/tiny-llama", &commit, &files);
    for f in &files {
        assert_eq!(view["loaded"][f.name], hex(&f.data), "{}", f.name);
    }
    // What was central already is left to dedupe, which links it.
    let d = json_of(&env.ok(&["dedupe", "--apply", "--json"]));
    assert_eq!(d["freed_bytes"], total(&files[..2]));
    let meta = read_metadata(&dl, &files);
    for f in &files {
        assert_eq!(meta[f.name], json!([commit, f.etag()]));
    }
}

#[test]
fn migrate_local_dir_refuses_a_file_changed_since_its_download() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let dl = env.repo.join("models/tiny");
    local_dir_download(&env, &dl, &commit, &files, 100);
    fs::write(dl.join("model.safetensors"), b"fine-tuned").unwrap();
    let before = env.snapshot();
    let out = env.run(&[
        "migrate",
        "--local-dir",
        dl.to_str().unwrap(),
        "--repo",
        "org/tiny",
        "--apply",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("model.safetensors"));
    assert_eq!(
        common::changed(
            &common::user_files(&before),
            &common::user_files(&env.snapshot())
        ),
        Vec::<PathBuf>::new()
    );
    assert!(
        !env.home
            .join(".cache/huggingface/hub/models--org--tiny")
            .exists()
    );
}

#[test]
fn migrate_local_dir_never_names_a_blob_by_an_etag_its_content_does_not_have() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let dl = env.repo.join("models/tiny");
    local_dir_download(&env, &dl, &commit, &files, 100);
    // Other bytes of the same size under the old mtime: the metadata looks valid.
    let w = dl.join("sub/adapter.safetensors");
    let old = fs::metadata(&w).unwrap();
    fs::write(&w, vec![8u8; 120_000]).unwrap();
    filetime::set_file_mtime(&w, filetime::FileTime::from_last_modification_time(&old)).unwrap();
    let out = env.run(&[
        "migrate",
        "--local-dir",
        dl.to_str().unwrap(),
        "--repo",
        "org/tiny",
        "--apply",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    // Every file is checked before the first one moves: nothing was imported.
    assert!(
        !env.home
            .join(".cache/huggingface/hub/models--org--tiny/blobs")
            .join(files[1].etag())
            .exists()
    );
    let blob = env
        .home
        .join(".cache/huggingface/hub/models--org--tiny/blobs")
        .join(files[2].etag());
    assert!(
        !blob.exists(),
        "a blob holds content its name does not promise"
    );
    assert_eq!(fs::read(&w).unwrap(), vec![8u8; 120_000]);
}

/// The warnings `scan_cache_dir` gives for the hub cache.
fn scan_cache_dir_warnings(env: &TestEnv) -> Vec<String> {
    let out = Command::new(common::python())
        .arg("-c")
        .arg("import json,sys; from huggingface_hub import scan_cache_dir; print(json.dumps([str(w) for w in scan_cache_dir(sys.argv[1]).warnings]))")
        .arg(env.home.join(".cache/huggingface/hub"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_stray_folder_in_the_hub_cache_is_named_and_moved_to_the_custom_folder() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    central(&env, "org/tiny-llama", &commit, &files);
    // What `mlx_lm.convert --mlx-path ~/.cache/huggingface/hub/tiny-4bit` leaves.
    let hub = env.home.join(".cache/huggingface/hub");
    let stray = hub.join("tiny-4bit");
    let converted: [(&str, Vec<u8>); 3] = [
        ("config.json", br#"{"quantization": {"bits": 4}}"#.to_vec()),
        ("model.safetensors", vec![3u8; 200_000]),
        ("tokenizer.json", b"{}".to_vec()),
    ];
    for (n, d) in &converted {
        fs::create_dir_all(&stray).unwrap();
        fs::write(stray.join(n), d).unwrap();
    }
    let warned = scan_cache_dir_warnings(&env);
    assert!(
        warned.iter().any(|w| w.contains("tiny-4bit")),
        "scan_cache_dir does not report the stray folder: {warned:?}"
    );

    let u = json_of(&env.ok(&["usage", "--json", "--no-hash-cache"]));
    let s = &u["hidden_copies"]["stray_folders"];
    assert_eq!(s.as_array().unwrap().len(), 1, "{u:#}");
    assert_eq!(s[0]["path"], stray.display().to_string());
    let bytes: u64 = converted.iter().map(|(_, d)| d.len() as u64).sum();
    assert_eq!(s[0]["bytes"], bytes);
    let d: Value =
        serde_json::from_slice(&env.run(&["doctor", "--no-probe", "--json"]).stdout).unwrap();
    let text = d.to_string();
    assert!(text.contains("hub.strays.tiny-4bit"), "{d:#}");

    let stray_arg = stray.to_str().unwrap();
    let before = env.snapshot();
    env.ok(&["migrate", "--stray", stray_arg]);
    assert_eq!(
        common::changed(
            &common::user_files(&before),
            &common::user_files(&env.snapshot())
        ),
        Vec::<PathBuf>::new()
    );
    env.ok(&["migrate", "--stray", stray_arg, "--apply"]);
    assert!(!stray.exists());
    let moved = env.home.join("models/tiny-4bit");
    for (n, data) in &converted {
        assert_eq!(&fs::read(moved.join(n)).unwrap(), data, "{n}");
    }
    assert_eq!(scan_cache_dir_warnings(&env), Vec::<String>::new());
    // The repo next to it is untouched, and the model is listed where it went.
    let view = hub_view(&env, "org/tiny-llama", &commit, &files);
    assert_eq!(view["repos"], json!([["org/tiny-llama", [commit]]]));
    let u = json_of(&env.ok(&["usage", "--json", "--no-hash-cache"]));
    assert_eq!(u["hidden_copies"]["stray_folders"], json!([]));
    assert!(
        u["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["store"] == "custom" && m["id"] == "tiny-4bit")
    );
}

/// `migrate --stray … --apply` killed after any change, then run again as typed: the rerun
/// finishes the interrupted move and succeeds (the folder it names may be gone by then), on
/// one filesystem and across two.
#[test]
fn migrate_stray_killed_at_any_change_is_finished_by_the_same_command() {
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let mut kills = 0;
    for custom in [None, Some(shm.path())] {
        for kill in 1..=8 {
            let mut env = TestEnv::new();
            let target = match custom {
                Some(dir) => dir.join(format!("models-{kill}")),
                None => env.home.join("models"),
            };
            if custom.is_some() {
                env = env.with_env("CUSTOM_MODEL_DIR", target.to_str().unwrap());
            }
            let stray = env.home.join(".cache/huggingface/hub/tiny-4bit");
            let converted: [(&str, Vec<u8>); 3] = [
                ("config.json", b"{}".to_vec()),
                ("model.safetensors", vec![3u8; 100_000]),
                ("sub/tokenizer.json", b"{}".to_vec()),
            ];
            for (n, d) in &converted {
                fs::create_dir_all(stray.join(n).parent().unwrap()).unwrap();
                fs::write(stray.join(n), d).unwrap();
            }
            // Named through a link and with `..`, as a user may type it.
            fs::create_dir_all(env.home.join("caches")).unwrap();
            std::os::unix::fs::symlink(env.home.join(".cache"), env.home.join("caches/c")).unwrap();
            let spelled = env
                .home
                .join("caches/c/huggingface/../huggingface/hub/tiny-4bit/");
            let args = ["migrate", "--stray", spelled.to_str().unwrap(), "--apply"];
            let out = env
                .cmd(&args)
                .env("MODELENV_TEST_KILL_AFTER", kill.to_string())
                .output()
                .unwrap();
            let was_killed = common::killed(&out);
            if was_killed {
                kills += 1;
                let out = env.ok(&args);
                assert!(
                    common::stderr(&out).contains("finished the interrupted `modelenv migrate`"),
                    "kill {kill}: {}",
                    common::stderr(&out)
                );
            } else {
                assert!(out.status.success(), "{}", common::stderr(&out));
            }
            assert!(!stray.exists(), "kill {kill}");
            for (n, data) in &converted {
                assert_eq!(
                    &fs::read(target.join("tiny-4bit").join(n)).unwrap(),
                    data,
                    "kill {kill}: {n}"
                );
            }
            if !was_killed {
                break;
            }
        }
    }
    assert!(kills >= 2, "only {kills} runs were killed");
}

/// A custom folder that a link made after install puts inside the hub cache: the doctor
/// fails it (instead of a pass and a `migrate --stray` hint that cannot work), and `migrate
/// --stray` refuses before changing anything.
#[test]
fn a_custom_folder_linked_into_the_hub_cache_is_failed_and_strays_are_not_moved_into_it() {
    let env = TestEnv::new();
    let hub = env.home.join(".cache/huggingface/hub");
    let stray = hub.join("mine");
    fs::create_dir_all(&stray).unwrap();
    fs::write(stray.join("weights.npz"), b"w").unwrap();
    let custom = env.home.join("mymodels");
    let env = env.with_env("CUSTOM_MODEL_DIR", custom.to_str().unwrap());
    std::os::unix::fs::symlink(&stray, &custom).unwrap();
    let d: Value =
        serde_json::from_slice(&env.run(&["doctor", "--no-probe", "--json"]).stdout).unwrap();
    let c = d["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "location.custom_model_dir")
        .unwrap();
    assert_eq!(c["status"], "fail", "{c:#}");
    let before = env.snapshot();
    let out = env.run(&["migrate", "--stray", stray.to_str().unwrap(), "--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("CUSTOM_MODEL_DIR"));
    assert_eq!(
        common::changed(&before, &env.snapshot()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(fs::read(stray.join("weights.npz")).unwrap(), b"w");
}

#[test]
fn migrate_stray_refuses_a_repo_folder_and_a_taken_name() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let repo = central(&env, "org/tiny-llama", &commit, &files);
    let out = env.run(&["migrate", "--stray", repo.to_str().unwrap(), "--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(repo.join("blobs").exists());
    let stray = env.home.join(".cache/huggingface/hub/mlx_model");
    fs::create_dir_all(&stray).unwrap();
    fs::write(stray.join("weights.npz"), b"w").unwrap();
    fs::create_dir_all(env.home.join("models/mlx_model")).unwrap();
    let out = env.run(&["migrate", "--stray", stray.to_str().unwrap(), "--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(stray.join("weights.npz").exists());
}

#[test]
fn converted_and_saved_model_folders_are_listed_and_their_duplicate_weights_linked() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let repo = central(&env, "org/tiny-llama", &commit, &files);
    // `save_pretrained` into the repo: the same weights as the central blob.
    let saved = env.repo.join("checkpoints/tiny");
    fs::create_dir_all(&saved).unwrap();
    fs::write(
        saved.join("config.json"),
        br#"{"model_type": "llama", "saved": 1}"#,
    )
    .unwrap();
    fs::write(saved.join("model.safetensors"), &files[1].data).unwrap();
    // `mlx_lm.convert` output with its default name: weights nowhere else.
    let mlx = env.repo.join("mlx_model");
    fs::create_dir_all(&mlx).unwrap();
    fs::write(mlx.join("config.json"), b"{}").unwrap();
    fs::write(mlx.join("weights.npz"), vec![5u8; 150_000]).unwrap();
    // A folder with a config.json and no weights is no model.
    fs::create_dir_all(env.repo.join("app")).unwrap();
    fs::write(env.repo.join("app/config.json"), b"{}").unwrap();

    let r = json_of(&env.ok(&["scan", "--json"]));
    let caches = r["caches"].as_array().unwrap();
    let kinds: Vec<(String, String, u64)> = caches
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().to_owned(),
                c["kind"].as_str().unwrap().to_owned(),
                c["bytes"].as_u64().unwrap(),
            )
        })
        .collect();
    let size = |p: &Path| -> u64 {
        fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum()
    };
    assert_eq!(
        kinds,
        vec![
            (
                saved.display().to_string(),
                "model-folder".into(),
                size(&saved)
            ),
            (mlx.display().to_string(), "model-folder".into(), size(&mlx)),
        ]
    );
    // Only the saved weights are stored elsewhere too (found by size, then by hash).
    assert_eq!(r["reclaimable_bytes"], files[1].data.len() as u64);
    let u = json_of(&env.ok(&[
        "usage",
        "--json",
        "--no-hash-cache",
        "--dir",
        env.repo.to_str().unwrap(),
    ]));
    let listed: Vec<&str> = u["hidden_copies"]["model_folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [saved.to_str().unwrap(), mlx.to_str().unwrap()],
        "{u:#}"
    );

    // migrate leaves both whole; dedupe links the saved weights to the central blob.
    let before = env.snapshot();
    env.ok(&["migrate", "--apply"]);
    assert!(saved.join("model.safetensors").exists() && mlx.join("weights.npz").exists());
    assert_eq!(
        common::changed(
            &common::user_files(&before),
            &common::user_files(&env.snapshot())
        )
        .into_iter()
        .filter(|p| p.starts_with(&env.repo))
        .collect::<Vec<_>>(),
        Vec::<PathBuf>::new()
    );
    let d = json_of(&env.ok(&[
        "dedupe",
        "--dir",
        saved.to_str().unwrap(),
        "--apply",
        "--json",
    ]));
    assert_eq!(d["freed_bytes"], files[1].data.len() as u64, "{d:#}");
    let w = saved.join("model.safetensors");
    assert_eq!(
        fs::metadata(&w).unwrap().ino(),
        fs::metadata(repo.join("blobs").join(files[1].etag()))
            .unwrap()
            .ino()
    );
    assert_eq!(fs::read(&w).unwrap(), files[1].data);
}

/// Runs modelenv killed after `kill` changes, then again to the end; returns how many runs
/// were killed.
fn killed_then_rerun(env: &TestEnv, args: &[&str], kill: u64) -> bool {
    let out = env
        .cmd(args)
        .env("MODELENV_TEST_KILL_AFTER", kill.to_string())
        .output()
        .unwrap();
    let was_killed = common::killed(&out);
    if !was_killed {
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    env.ok(args);
    was_killed
}

#[test]
fn migrate_local_dir_and_dedupe_killed_at_any_change_are_finished_by_a_rerun() {
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let mut kills = 0;
    for kill in 1..=12 {
        let env = TestEnv::new();
        let dl = env.repo.join("models/tiny");
        local_dir_download(&env, &dl, &commit, &files, 3600);
        let dl_arg = dl.to_str().unwrap();
        let args = [
            "migrate",
            "--local-dir",
            dl_arg,
            "--repo",
            "org/tiny",
            "--apply",
        ];
        kills += killed_then_rerun(&env, &args, kill) as u64;
        let view = hub_view(&env, "org/tiny", &commit, &files);
        for f in &files {
            assert_eq!(
                view["loaded"][f.name],
                hex(&f.data),
                "kill {kill}: {}",
                f.name
            );
            assert_eq!(fs::read(dl.join(f.name)).unwrap(), f.data, "kill {kill}");
        }
        assert_eq!(
            read_metadata(&dl, &files)["model.safetensors"],
            json!([commit, files[1].etag()]),
            "kill {kill}"
        );

        // A second download of the same repo, an hour older than the blobs, linked by dedupe.
        let dl2 = env.home.join("models/tiny-again");
        local_dir_download(&env, &dl2, &commit, &files, 7200);
        kills += killed_then_rerun(&env, &["dedupe", "--apply"], kill) as u64;
        let blobs = env
            .home
            .join(".cache/huggingface/hub/models--org--tiny/blobs");
        for f in &files {
            assert_eq!(
                fs::metadata(dl2.join(f.name)).unwrap().ino(),
                fs::metadata(blobs.join(f.etag())).unwrap().ino(),
                "kill {kill}: {}",
                f.name
            );
            assert_eq!(fs::read(dl2.join(f.name)).unwrap(), f.data);
        }
        let meta = read_metadata(&dl2, &files);
        for f in &files {
            assert_eq!(
                meta[f.name],
                json!([commit, f.etag()]),
                "kill {kill}: {}",
                f.name
            );
        }
    }
    assert!(kills >= 10, "only {kills} runs were killed");
}

#[test]
fn a_download_reached_through_the_custom_folder_and_dir_is_listed_once() {
    // CUSTOM_MODEL_DIR is a link to the folder also given with --dir.
    let env = TestEnv::new();
    let real = env.home.join("real-models");
    fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(&real, env.home.join("models-link")).unwrap();
    let link = env.home.join("models-link");
    let env = env.with_env("CUSTOM_MODEL_DIR", link.to_str().unwrap());
    let files = repo_files();
    let commit = fixtures::commit("v1");
    local_dir_download(&env, &real.join("tiny-llama"), &commit, &files, 0);
    let r = json_of(&env.ok(&[
        "usage",
        "--json",
        "--no-hash-cache",
        "--dir",
        real.to_str().unwrap(),
    ]));
    let listed = r["hidden_copies"]["local_dir_downloads"]
        .as_array()
        .unwrap();
    assert_eq!(listed.len(), 1, "{r:#}");
    assert_eq!(r["hidden_copies"]["migrate_bytes"], total(&files));
}

#[test]
fn migrate_local_dir_refuses_a_file_with_another_hard_link() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let dl = env.home.join("models/tiny");
    local_dir_download(&env, &dl, &commit, &files, 3600);
    // The user's backup shares the weights' inode: importing would make it the central blob.
    let backup = env.home.join("backup-of-weights.bin");
    fs::hard_link(dl.join(files[1].name), &backup).unwrap();
    let before = env.snapshot();
    let out = env.run(&[
        "migrate",
        "--local-dir",
        dl.to_str().unwrap(),
        "--repo",
        "org/tiny",
        "--apply",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("has other hard links"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(env.user_changes(&before), Vec::<PathBuf>::new());
    assert!(
        !env.home
            .join(".cache/huggingface/hub/models--org--tiny")
            .exists()
    );
}

#[test]
fn migrate_stray_refuses_links_out_of_it_and_keeps_mtimes_across_filesystems() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let repo = central(&env, "org/tiny-llama", &commit, &files);
    let hub = env.home.join(".cache/huggingface/hub");
    // An old `local_dir_use_symlinks` download into the hub: links into a repo's blobs.
    let linked = hub.join("conv");
    fs::create_dir_all(&linked).unwrap();
    std::os::unix::fs::symlink(
        format!("../models--org--tiny-llama/blobs/{}", files[1].etag()),
        linked.join("model.safetensors"),
    )
    .unwrap();
    let out = env.run(&["migrate", "--stray", linked.to_str().unwrap(), "--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("links out of"),
        "{}",
        common::stderr(&out)
    );
    assert!(linked.join("model.safetensors").exists());
    assert!(repo.join("blobs").join(files[1].etag()).exists());

    // Moved to another filesystem, a file keeps its mtime (download metadata depends on it).
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let env = env.with_env("CUSTOM_MODEL_DIR", shm.path().to_str().unwrap());
    let stray = hub.join("tiny-4bit");
    fs::create_dir_all(&stray).unwrap();
    fs::write(stray.join("model.safetensors"), vec![7u8; 4096]).unwrap();
    let old = filetime::FileTime::from_unix_time(1_600_000_000, 0);
    filetime::set_file_mtime(stray.join("model.safetensors"), old).unwrap();
    env.ok(&["migrate", "--stray", stray.to_str().unwrap(), "--apply"]);
    let moved = shm.path().join("tiny-4bit/model.safetensors");
    assert_eq!(fs::read(&moved).unwrap(), vec![7u8; 4096]);
    assert_eq!(
        filetime::FileTime::from_last_modification_time(&fs::metadata(&moved).unwrap()),
        old
    );
}

#[test]
fn migrate_local_dir_refuses_to_point_a_snapshot_at_a_damaged_central_blob() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let repo = central(&env, "org/tiny-llama", &commit, &files[..2]);
    // Bit rot: the weights' blob keeps its name and size, not its content.
    let blob = repo.join("blobs").join(files[1].etag());
    let mut rotten = files[1].data.clone();
    rotten[0] ^= 0xff;
    fs::write(&blob, &rotten).unwrap();
    let dl = env.home.join("models/tiny-llama");
    local_dir_download(&env, &dl, &commit, &files, 0);
    let before = env.snapshot();
    let out = env.run(&["migrate", "--local-dir", dl.to_str().unwrap(), "--apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("is damaged"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(env.user_changes(&before), Vec::<PathBuf>::new());
}

#[test]
fn prune_keeps_an_import_whose_files_the_local_dir_still_holds() {
    let env = TestEnv::new();
    let files = repo_files();
    let commit = fixtures::commit("v1");
    let dl = env.home.join("models/tiny");
    local_dir_download(&env, &dl, &commit, &files, 0);
    env.ok(&[
        "migrate",
        "--local-dir",
        dl.to_str().unwrap(),
        "--repo",
        "org/tiny",
        "--apply",
    ]);
    // The import has no ref (pinned by its commit): prune would offer it, yet its blobs are
    // the local folder's files too, so deleting them frees nothing.
    let before = env.snapshot();
    let r = json_of(&env.ok(&["prune", "--apply", "--include-unreferenced", "--json"]));
    assert_eq!(r["freed_bytes"], 0, "{r:#}");
    assert_eq!(env.user_changes(&before), Vec::<PathBuf>::new());
    let view = hub_view(&env, "org/tiny", &commit, &files);
    for f in &files {
        assert_eq!(view["loaded"][f.name], hex(&f.data), "{}", f.name);
    }
}
