//! prune, models rm, archive and restore on stores in their real layouts.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::fixtures::{self, Hub, Ollama, commit, git, lfs};
use common::{TestEnv, python};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", common::stderr(out)))
}

fn scan_warnings(cache: &Path) -> Vec<String> {
    let out = Command::new(python())
        .args(["-c", "import json,sys; from huggingface_hub import scan_cache_dir; print(json.dumps([str(w) for w in scan_cache_dir(sys.argv[1]).warnings]))"])
        .arg(cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn age(p: &Path, secs: i64) {
    let t = filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - secs, 0);
    filetime::set_file_times(p, t, t).unwrap();
}

/// Every blob every Ollama manifest names exists.
fn ollama_consistent(root: &Path) {
    for e in walkdir::WalkDir::new(root.join("manifests"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
    {
        let m: Value = serde_json::from_slice(&fs::read(e.path()).unwrap()).unwrap();
        let mut digests = vec![m["config"]["digest"].as_str().unwrap().to_owned()];
        digests.extend(
            m["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["digest"].as_str().unwrap().to_owned()),
        );
        for d in digests {
            let blob = root.join("blobs").join(d.replace(':', "-"));
            assert!(
                blob.exists(),
                "{} lost {}",
                e.path().display(),
                blob.display()
            );
        }
    }
}

struct Planted {
    detached_snapshot: std::path::PathBuf,
    detached_only_blob: std::path::PathBuf,
    shared_blob: std::path::PathBuf,
    incomplete: std::path::PathBuf,
    orphan: std::path::PathBuf,
    young_orphan: std::path::PathBuf,
}

fn plant(env: &TestEnv) -> Planted {
    let hub = Hub::new(&env.home.join(".cache/huggingface/hub"));
    let r = hub.repo("model", "org/m");
    let (old, new) = (commit("old"), commit("new"));
    let shared = vec![1u8; 10_000];
    let only_old = vec![2u8; 20_000];
    r.snapshot(
        &old,
        &[
            lfs("w.safetensors", &only_old),
            lfs("shared.bin", &shared),
            git("config.json", b"{}"),
        ],
    );
    r.snapshot(
        &new,
        &[
            lfs("w.safetensors", &[3u8; 30_000]),
            lfs("shared.bin", &shared),
            git("config.json", b"{}"),
        ],
    );
    r.git_ref("main", &new);
    let incomplete = r.incomplete(&[4u8; 5_000]);
    age(&incomplete, 2 * 3600);
    let o = Ollama::new(&env.home.join(".ollama/models"));
    o.library(
        "a",
        "latest",
        b"{\"a\":1}",
        &[
            (fixtures::MODEL, &[5u8; 40_000]),
            (fixtures::TEMPLATE, b"tmpl"),
        ],
    );
    o.library(
        "b",
        "latest",
        b"{\"b\":1}",
        &[
            (fixtures::MODEL, &[6u8; 50_000]),
            (fixtures::TEMPLATE, b"tmpl"),
        ],
    );
    let (_, orphan) = o.blob(&[7u8; 7_000]);
    age(&orphan, 2 * 3600);
    let (_, young_orphan) = o.blob(&[8u8; 8_000]);
    Planted {
        detached_snapshot: r.path.join("snapshots").join(&old),
        detached_only_blob: r.path.join("blobs").join(fixtures::sha256_hex(&only_old)),
        shared_blob: r.path.join("blobs").join(fixtures::sha256_hex(&shared)),
        incomplete,
        orphan,
        young_orphan,
    }
}

#[test]
fn prune_dry_run_reports_and_apply_removes_exactly_that() {
    let env = TestEnv::new();
    let p = plant(&env);
    let before = env.snapshot();
    let dry = json(&env.ok(&["prune", "--json"]));
    assert_eq!(env.snapshot(), before, "the dry run changed something");
    // At least: the detached revision's own blob, the .incomplete file, the old orphan blob.
    assert!(
        dry["reclaimable_bytes"].as_u64().unwrap() >= 20_000 + 5_000 + 7_000,
        "{dry:#}"
    );
    let paths: Vec<&str> = dry["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    for planted in [&p.detached_snapshot, &p.incomplete, &p.orphan] {
        assert!(
            paths.contains(&planted.to_str().unwrap()),
            "{planted:?} not listed: {paths:?}"
        );
    }
    assert!(
        !paths.contains(&p.young_orphan.to_str().unwrap()),
        "a blob under an hour old is kept"
    );

    let applied = json(&env.ok(&["prune", "--apply", "--json"]));
    assert_eq!(applied["freed_bytes"], dry["reclaimable_bytes"]);
    for gone in [
        &p.detached_snapshot,
        &p.detached_only_blob,
        &p.incomplete,
        &p.orphan,
    ] {
        assert!(!gone.exists(), "{gone:?} survived");
    }
    for kept in [&p.shared_blob, &p.young_orphan] {
        assert!(kept.exists(), "{kept:?} was removed");
    }
    ollama_consistent(&env.home.join(".ollama/models"));
    assert_eq!(
        scan_warnings(&env.home.join(".cache/huggingface/hub")),
        Vec::<String>::new()
    );
    // Nothing left to prune but the young blob.
    assert_eq!(
        json(&env.ok(&["prune", "--json"]))["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn rm_of_an_ollama_model_keeps_shared_blobs() {
    let env = TestEnv::new();
    plant(&env);
    let root = env.home.join(".ollama/models");
    let (_, shared_template) = Ollama::new(&root).blob(b"tmpl");
    let (_, own_weights) = Ollama::new(&root).blob(&[5u8; 40_000]);
    let out = env.run(&["models", "rm", "ollama:a:latest"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no tty and no --yes must refuse"
    );
    assert!(common::stderr(&out).contains("--yes"));
    assert!(own_weights.exists());
    env.ok(&["models", "rm", "ollama:a", "--yes"]);
    assert!(!root.join("manifests/registry.ollama.ai/library/a").exists());
    assert!(!own_weights.exists(), "the model's own weights stay behind");
    assert!(
        shared_template.exists(),
        "a blob model b still uses was removed"
    );
    ollama_consistent(&root);
}

#[test]
fn rm_of_an_hf_repo_leaves_the_cache_valid() {
    let env = TestEnv::new();
    plant(&env);
    let hub = Hub::new(&env.home.join(".cache/huggingface/hub"));
    let keep = hub.repo("dataset", "org/keep");
    let c = commit("keep");
    keep.snapshot(&c, &[git("README.md", b"x")]);
    keep.git_ref("main", &c);
    let dry = json(&env.ok(&["models", "rm", "hf-hub:org/m", "--dry-run", "--json"]));
    assert!(
        env.home
            .join(".cache/huggingface/hub/models--org--m")
            .exists()
    );
    assert_eq!(dry["dry_run"], true);
    env.ok(&["models", "rm", "hf-hub:org/m", "--yes"]);
    assert!(
        !env.home
            .join(".cache/huggingface/hub/models--org--m")
            .exists()
    );
    assert!(keep.path.exists());
    assert_eq!(
        scan_warnings(&env.home.join(".cache/huggingface/hub")),
        Vec::<String>::new()
    );
}

/// org/m's weights load through huggingface_hub with their bytes, and the cache scans clean.
fn assert_loads_from_a_valid_cache(env: &TestEnv, weights: &[u8]) {
    assert_eq!(
        try_to_load(env, "org/m", "w.safetensors").as_deref(),
        Some(weights),
        "org/m does not load with its bytes"
    );
    assert_eq!(
        scan_warnings(&env.home.join(".cache/huggingface/hub")),
        Vec::<String>::new()
    );
}

fn try_to_load(env: &TestEnv, repo: &str, file: &str) -> Option<Vec<u8>> {
    let out = Command::new(python())
        .args(["-c", "import sys; from huggingface_hub import try_to_load_from_cache as t; p = t(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3]); sys.stdout.buffer.write(open(p, 'rb').read() if isinstance(p, str) else b'<none>')"])
        .args([repo, file])
        .arg(env.home.join(".cache/huggingface/hub"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.stdout != b"<none>").then_some(out.stdout)
}

#[test]
fn archive_keeps_the_model_loadable_and_restore_brings_it_back() {
    let env = TestEnv::new();
    plant(&env);
    let weights = try_to_load(&env, "org/m", "w.safetensors").expect("loads before");
    let repo = env.home.join(".cache/huggingface/hub/models--org--m");
    let drive = env.tmp.path().join("drive/model-archive");
    let files_before: Vec<_> = walkdir::WalkDir::new(&repo)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .map(|e| e.path().strip_prefix(&repo).unwrap().to_path_buf())
        .collect();

    let dry = json(&env.ok(&[
        "models",
        "archive",
        "hf-hub:org/m",
        "--to",
        drive.to_str().unwrap(),
        "--dry-run",
        "--json",
    ]));
    assert_eq!(dry["dry_run"], true);
    assert!(
        !drive.exists()
            && !fs::symlink_metadata(&repo)
                .unwrap()
                .file_type()
                .is_symlink()
    );

    env.ok(&[
        "models",
        "archive",
        "hf-hub:org/m",
        "--to",
        drive.to_str().unwrap(),
    ]);
    assert!(
        fs::symlink_metadata(&repo)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_link(&repo).unwrap(), drive.join("models--org--m"));
    assert_loads_from_a_valid_cache(&env, &weights);

    // The drive unplugged: the doctor names the model and the missing path.
    let unplugged = env.tmp.path().join("drive-away");
    fs::rename(env.tmp.path().join("drive"), &unplugged).unwrap();
    let r = json(&env.run(&["doctor", "--json", "--no-probe"]));
    let c = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "integrity.models--org--m")
        .expect("no integrity warning");
    assert_eq!(c["status"], "warn");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains(drive.to_str().unwrap())
    );
    let out = env.run(&["models", "restore", "hf-hub:org/m"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("plug in the drive"));
    fs::rename(&unplugged, env.tmp.path().join("drive")).unwrap();

    env.ok(&["models", "restore", "hf-hub:org/m"]);
    assert!(
        !fs::symlink_metadata(&repo)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!drive.join("models--org--m").exists());
    let files_after: Vec<_> = walkdir::WalkDir::new(&repo)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .map(|e| e.path().strip_prefix(&repo).unwrap().to_path_buf())
        .collect();
    assert_eq!(files_before, files_after);
    assert_loads_from_a_valid_cache(&env, &weights);
}

/// The files below a folder, as relative paths, in order.
fn tree(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
        .collect()
}

#[test]
fn sigkill_at_any_point_of_archive_and_restore_then_rerun_loses_nothing() {
    let shm = Path::new("/dev/shm");
    let mut kills = 0;
    for n in 1..=6u64 {
        let env = TestEnv::new();
        plant(&env);
        let weights = try_to_load(&env, "org/m", "w.safetensors").unwrap();
        let repo = env.home.join(".cache/huggingface/hub/models--org--m");
        let before = tree(&repo);
        // Across filesystems, so the copy, verify and rename steps are all killed once.
        let drive = tempfile::Builder::new()
            .prefix("modelenv-drive-")
            .tempdir_in(if shm.is_dir() { shm } else { env.tmp.path() })
            .unwrap();
        let to = drive.path().to_str().unwrap();
        for (args, kill) in [
            (
                vec!["models", "archive", "hf-hub:org/m", "--to", to],
                Some(n),
            ),
            (vec!["models", "archive", "hf-hub:org/m", "--to", to], None),
        ] {
            let mut c = env.cmd(&args);
            if let Some(k) = kill {
                c.env("MODELENV_TEST_KILL_AFTER", k.to_string());
            }
            let out = c.output().unwrap();
            if common::killed(&out) {
                kills += 1;
            } else {
                assert!(
                    out.status.success(),
                    "archive, kill at {n}: {}",
                    common::stderr(&out)
                );
            }
        }
        assert_eq!(
            fs::read_link(&repo).unwrap(),
            drive.path().join("models--org--m")
        );
        assert_loads_from_a_valid_cache(&env, &weights);
        for kill in [Some(n), None] {
            let mut c = env.cmd(&["models", "restore", "hf-hub:org/m"]);
            if let Some(k) = kill {
                c.env("MODELENV_TEST_KILL_AFTER", k.to_string());
            }
            let out = c.output().unwrap();
            if common::killed(&out) {
                kills += 1;
            } else {
                assert!(
                    out.status.success(),
                    "restore, kill at {n}: {}",
                    common::stderr(&out)
                );
            }
        }
        assert!(
            !fs::symlink_metadata(&repo)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(tree(&repo), before);
        assert!(fs::read_dir(drive.path()).unwrap().next().is_none());
        assert_loads_from_a_valid_cache(&env, &weights);
    }
    assert!(kills >= 6, "the kill hook fired only {kills} times");
}

#[test]
fn ollama_models_are_not_archived_one_by_one() {
    let env = TestEnv::new();
    plant(&env);
    let out = env.run(&["models", "archive", "ollama:a:latest", "--to", "/tmp/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("manifest and its blobs"));
}

#[test]
fn archive_across_filesystems_copies_and_verifies() {
    let shm = Path::new("/dev/shm");
    let env = TestEnv::new();
    let same_dev = |a: &Path, b: &Path| {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(a).map(|m| m.dev()).ok() == fs::metadata(b).map(|m| m.dev()).ok()
    };
    assert!(
        shm.is_dir() && !same_dev(shm, env.tmp.path()),
        "this test needs /dev/shm on another filesystem"
    );
    plant(&env);
    let weights = try_to_load(&env, "org/m", "w.safetensors").unwrap();
    let drive = tempfile::Builder::new()
        .prefix("modelenv-drive-")
        .tempdir_in(shm)
        .unwrap();
    env.ok(&[
        "models",
        "archive",
        "hf-hub:org/m",
        "--to",
        drive.path().to_str().unwrap(),
    ]);
    let repo = env.home.join(".cache/huggingface/hub/models--org--m");
    assert!(
        fs::symlink_metadata(&repo)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        !drive
            .path()
            .join("models--org--m.modelenv-partial")
            .exists()
    );
    assert_eq!(
        try_to_load(&env, "org/m", "w.safetensors").as_deref(),
        Some(&weights[..])
    );
    env.ok(&["models", "restore", "hf-hub:org/m"]);
    assert!(
        repo.is_dir()
            && !fs::symlink_metadata(&repo)
                .unwrap()
                .file_type()
                .is_symlink()
    );
    assert_loads_from_a_valid_cache(&env, &weights);
}

#[test]
fn prune_older_than_keeps_recent_items() {
    let env = TestEnv::new();
    let p = plant(&env);
    age(&p.incomplete, 40 * 86_400);
    let v = json(&env.ok(&["prune", "--json", "--older-than", "30d"]));
    let paths: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [p.incomplete.to_str().unwrap()],
        "only the 40-day-old download is older than 30d"
    );
    assert!(env.run(&["prune", "--older-than", "soon"]).status.code() == Some(2));
}

#[test]
fn rm_asks_on_a_terminal() {
    if which::which("script").is_err() {
        panic!("`script` (util-linux) is needed to give modelenv a terminal");
    }
    let env = TestEnv::new();
    plant(&env);
    let manifest = env
        .home
        .join(".ollama/models/manifests/registry.ollama.ai/library/a/latest");
    let run = |answer: &str| {
        let cmd = format!("'{}' models rm ollama:a:latest", common::bin().display());
        let mut c = env.cmd(&[]);
        let envs: Vec<_> = c
            .get_envs()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned())))
            .collect();
        c = Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"])
            .env_clear()
            .envs(envs)
            .current_dir(&env.home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let no = run("n\n");
    assert_eq!(
        no.status.code(),
        Some(0),
        "declining is not a problem found"
    );
    assert!(manifest.exists(), "answering no removed the model");
    assert!(
        String::from_utf8_lossy(&no.stdout).contains("[y/N]"),
        "{}",
        String::from_utf8_lossy(&no.stdout)
    );
    run("y\n");
    assert!(!manifest.exists(), "answering yes kept the model");
}
