//! Tests that kill the mutants `cargo mutants` left alive in the planners (prune, models rm /
//! archive / restore, migrate, dedupe, edits): each builds the stores on disk, runs the binary,
//! and checks what is left.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::TestEnv;
use common::fixtures::{self, Hub, Ollama, commit, lfs};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", common::stdout(out), common::stderr(out)))
}

fn hub_dir(env: &TestEnv) -> PathBuf {
    env.home.join(".cache/huggingface/hub")
}

/// An HF model repo with one revision on `main`; returns the repo folder.
fn hf_model(env: &TestEnv, id: &str, weights: &[u8]) -> PathBuf {
    let r = Hub::new(&hub_dir(env)).repo("model", id);
    let c = commit(id);
    r.snapshot(&c, &[lfs("model.safetensors", weights)]);
    r.git_ref("main", &c);
    r.path
}

fn age(p: &Path, secs: i64) {
    let t = filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - secs, 0);
    filetime::set_symlink_file_times(p, t, t).unwrap();
}

fn is_link(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

/// The sources modelenv's archive record lists.
fn archived(env: &TestEnv) -> Vec<PathBuf> {
    let p = env.home.join(".local/state/modelenv/archives.json");
    let Ok(text) = fs::read_to_string(&p) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&text).unwrap();
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| PathBuf::from(e["src"].as_str().unwrap()))
        .collect()
}

fn archive(env: &TestEnv, id: &str, drive: &Path) -> std::process::Output {
    env.run(&["models", "archive", id, "--to", drive.to_str().unwrap()])
}

// --- models rm / archive / restore -------------------------------------------------------------

#[test]
fn rm_of_an_archived_model_removes_its_archive_and_its_record_only() {
    let env = TestEnv::new();
    let a = hf_model(&env, "org/a", &[1u8; 3_000]);
    let b = hf_model(&env, "org/b", &[2u8; 3_000]);
    let drive = env.tmp.path().join("drive");
    for id in ["hf-hub:org/a", "hf-hub:org/b"] {
        let out = archive(&env, id, &drive);
        assert!(out.status.success(), "{}", common::stderr(&out));
    }
    assert_eq!(archived(&env), [a.clone(), b.clone()]);
    // Archiving again is found done.
    let again = archive(&env, "hf-hub:org/a", &drive);
    assert!(again.status.success(), "{}", common::stderr(&again));
    assert!(common::stdout(&again).contains("already archived"));

    env.ok(&["models", "rm", "hf-hub:org/a", "--yes"]);
    assert!(fs::symlink_metadata(&a).is_err(), "the link stays");
    assert!(!drive.join("models--org--a").exists(), "the archive stays");
    assert!(is_link(&b));
    assert!(
        drive.join("models--org--b/blobs").is_dir(),
        "org/b's archive went"
    );
    assert_eq!(archived(&env), [b]);
}

#[test]
fn rm_of_a_model_whose_archive_was_moved_by_hand_removes_only_the_link() {
    let env = TestEnv::new();
    let a = hf_model(&env, "org/a", &[1u8; 3_000]);
    let drive = env.tmp.path().join("drive");
    let out = archive(&env, "hf-hub:org/a", &drive);
    assert!(out.status.success(), "{}", common::stderr(&out));
    // The user moved the archive elsewhere and pointed the link there.
    let moved = env.tmp.path().join("elsewhere/models--org--a");
    fs::create_dir_all(moved.parent().unwrap()).unwrap();
    fs::rename(drive.join("models--org--a"), &moved).unwrap();
    fs::remove_file(&a).unwrap();
    symlink(&moved, &a).unwrap();
    env.ok(&["models", "rm", "hf-hub:org/a", "--yes"]);
    assert!(fs::symlink_metadata(&a).is_err());
    assert!(
        moved.join("blobs").is_dir(),
        "what modelenv did not archive there went"
    );
    assert_eq!(archived(&env), Vec::<PathBuf>::new());
}

#[test]
fn restore_brings_back_the_model_named_and_finishes_after_a_kill() {
    let env = TestEnv::new();
    let a = hf_model(&env, "org/a", &[1u8; 3_000]);
    let b = hf_model(&env, "org/b", &[2u8; 3_000]);
    let drive = env.tmp.path().join("drive");
    for id in ["hf-hub:org/a", "hf-hub:org/b"] {
        assert!(archive(&env, id, &drive).status.success());
    }
    let nope = env.run(&["models", "restore", "hf-hub:org/never"]);
    assert_eq!(nope.status.code(), Some(2));
    assert!(common::stderr(&nope).contains("not archived"));

    let killed = env
        .cmd(&["models", "restore", "hf-hub:org/b"])
        .env("MODELENV_TEST_KILL_AFTER", "1")
        .output()
        .unwrap();
    assert!(common::killed(&killed), "{}", common::stderr(&killed));
    let rerun = env.run(&["models", "restore", "hf-hub:org/b"]);
    assert!(
        rerun.status.success(),
        "{}{}",
        common::stdout(&rerun),
        common::stderr(&rerun)
    );
    assert!(b.is_dir() && !is_link(&b));
    assert!(is_link(&a), "org/a was restored instead");
    assert_eq!(archived(&env), [a]);
}

#[test]
fn rm_of_an_unknown_model_is_an_error() {
    let env = TestEnv::new();
    hf_model(&env, "org/a", &[1u8; 3_000]);
    let out = env.run(&["models", "rm", "hf-hub:org/never", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stdout(&out));
    assert!(common::stderr(&out).contains("no model hf-hub:org/never"));
}

// --- prune ---------------------------------------------------------------------------------------

#[test]
fn prune_exits_1_when_an_operation_fails() {
    let env = TestEnv::new();
    let o = Ollama::new(&env.home.join(".ollama/models"));
    let (_, orphan) = o.blob(&[9u8; 3_000]);
    age(&orphan, 2 * 3600);
    let chattr = |flag: &str| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(&orphan)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !chattr("+i") {
        eprintln!("cannot make a file immutable here (not root, or no chattr); skipped");
        return;
    }
    let out = env.run(&["prune", "--apply", "--json"]);
    chattr("-i");
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(orphan.exists());
}

// --- dedupe and edits ------------------------------------------------------------------------------

#[test]
fn dedupe_reports_a_copy_changed_behind_the_hash_cache_as_skipped() {
    let env = TestEnv::new();
    let gguf = vec![42u8; 300_000];
    let o = Ollama::new(&env.home.join(".ollama/models"));
    o.library("qwen", "latest", b"{}", &[(fixtures::MODEL, &gguf)]);
    let lm = env.home.join(".lmstudio/models/Qwen/Qwen-GGUF/qwen.gguf");
    let custom = env.home.join("models/qwen.gguf");
    for p in [&lm, &custom] {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, &gguf).unwrap();
    }
    let dry = env.ok(&["dedupe"]);
    assert!(
        common::stderr(&dry).contains("dry run"),
        "{}",
        common::stderr(&dry)
    );
    // The same size and mtime, other bytes: the remembered hash is stale, the guard's is not.
    let mtime = filetime::FileTime::from_last_modification_time(&fs::metadata(&custom).unwrap());
    let mut f = fs::OpenOptions::new().write(true).open(&custom).unwrap();
    std::io::Write::write_all(&mut f, b"edited").unwrap();
    drop(f);
    filetime::set_file_mtime(&custom, mtime).unwrap();
    let out = env.run(&["dedupe", "--apply", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let v = json(&out);
    assert_eq!(v["link"], "hard");
    let g = &v["groups"][0];
    assert_eq!(
        g["linked"],
        serde_json::json!([lm.to_str().unwrap()]),
        "{v:#}"
    );
    assert_eq!(g["skipped"][0]["path"], custom.to_str().unwrap());
    assert!(
        g["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("does not hold the content"),
        "{v:#}"
    );
    assert!(fs::read(&custom).unwrap().starts_with(b"edited"));
}

#[test]
fn install_writes_its_record_before_the_files_it_describes() {
    let env = TestEnv::new();
    let rc = env.write(".bashrc", "# mine\n");
    let args = ["install", "--shell", "bash", "--no-doctor"];
    let killed = env
        .cmd(&args)
        .env("MODELENV_TEST_KILL_AFTER", "1")
        .output()
        .unwrap();
    assert!(common::killed(&killed), "{}", common::stderr(&killed));
    assert!(
        env.home.join(".local/state/modelenv/state.json").is_file(),
        "a file changed before the record of the change was written"
    );
    assert_eq!(fs::read_to_string(&rc).unwrap(), "# mine\n");
    env.ok(&args);
    assert_ne!(fs::read_to_string(&rc).unwrap(), "# mine\n");
}

// --- migrate -----------------------------------------------------------------------------------

fn migrate_json(env: &TestEnv, args: &[&str]) -> (Option<i32>, Value) {
    let mut a = vec!["migrate", "--json"];
    a.extend_from_slice(args);
    let out = env.run(&a);
    (out.status.code(), json(&out))
}

/// The report of the cache at `<repo>/<project>/model_cache`.
fn cache_report<'a>(env: &TestEnv, v: &'a Value, project: &str) -> &'a Value {
    let p = env.repo.join(project).join("model_cache");
    v["caches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == p.to_str().unwrap())
        .unwrap_or_else(|| panic!("no report for {}: {v:#}", p.display()))
}

fn problems(c: &Value) -> String {
    c["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn migrate_moves_the_users_files_whole_and_counts_every_byte() {
    let env = TestEnv::new();
    let mc = env.repo.join("p1/model_cache");
    let r = Hub::new(&mc).repo("model", "org/x");
    let c = commit("x");
    r.snapshot(&c, &[lfs("w.safetensors", &[1u8; 3_000])]);
    r.git_ref("main", &c);
    // An abandoned download (old, no lock held): it goes with the cache.
    let unfinished = r.incomplete(&[2u8; 500]);
    age(&unfinished, 7200);
    let user: [(&str, &[u8]); 4] = [
        ("notes.txt", b"my notes"),
        ("extra/deep.txt", b"deeper"),
        ("models--org--fake", b"a file, not a repo"),
        ("models--org--x/adapter/notes.md", b"adapter notes"),
    ];
    for (rel, data) in user {
        fs::create_dir_all(mc.join(rel).parent().unwrap()).unwrap();
        fs::write(mc.join(rel), data).unwrap();
    }
    let user_bytes: u64 = user.iter().map(|(_, d)| d.len() as u64).sum();

    let (code, dry) = migrate_json(&env, &[]);
    assert_eq!(code, Some(0), "{dry:#}");
    let c = cache_report(&env, &dry, "p1");
    assert_eq!(c["kind"], "hf-layout");
    assert_eq!(c["repos"], 1);
    assert_eq!(c["moved_bytes"], 3_000 + user_bytes, "{c:#}");
    assert!(c["bytes"].as_u64().unwrap() >= 3_000 + user_bytes, "{c:#}");

    let (code, applied) = migrate_json(&env, &["--apply"]);
    assert_eq!(code, Some(0), "{applied:#}");
    assert!(!mc.exists());
    let custom = env.home.join("models/p1");
    for (rel, data) in user {
        assert_eq!(fs::read(custom.join(rel)).unwrap(), data, "{rel}");
    }
    assert!(!custom.join("CACHEDIR.TAG").exists() && !custom.join(".locks").exists());
    let hub = hub_dir(&env);
    assert!(!hub.join("models--org--fake").exists());
    assert!(
        !hub.join("models--org--x/blobs")
            .join(unfinished.file_name().unwrap())
            .exists(),
        "an unfinished download was moved centrally"
    );
}

#[test]
fn migrate_keeps_a_cache_whose_files_conflict_and_drops_identical_ones() {
    let env = TestEnv::new();
    let hub = Hub::new(&hub_dir(&env));
    let right = [3u8; 4_000];
    let sha_right = fixtures::sha256_hex(&right);
    // p2: a blob whose central namesake has another size, beside a new one.
    let central_y = hub.repo("model", "org/y");
    fs::write(central_y.path.join("blobs").join(&sha_right), b"short").unwrap();
    let r = Hub::new(&env.repo.join("p2/model_cache")).repo("model", "org/y");
    r.snapshot(
        &commit("y"),
        &[lfs("w.bin", &right), lfs("a.bin", &[4u8; 1_000])],
    );
    r.git_ref("main", &commit("y"));
    // p3 and p4: a user file already in the custom folder, the same or another size.
    for (p, there) in [("p3", &b"same"[..]), ("p4", b"longer text")] {
        let mc = Hub::new(&env.repo.join(p).join("model_cache")).root;
        fs::write(mc.join("notes.txt"), "same").unwrap();
        let dest = env.home.join("models").join(p).join("notes.txt");
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::write(dest, there).unwrap();
    }
    // p5 and p6: a blob named by no hash, centrally with the same size, other or same bytes.
    let central_z = hub.repo("model", "org/z");
    fs::write(central_z.path.join("blobs/cafe0123"), "AAAA").unwrap();
    for (p, data) in [("p5", "BBBB"), ("p6", "AAAA")] {
        let r = Hub::new(&env.repo.join(p).join("model_cache")).repo("model", "org/z");
        fs::write(r.path.join("blobs/cafe0123"), data).unwrap();
        let snap = r.path.join("snapshots").join(commit("z"));
        fs::create_dir_all(&snap).unwrap();
        symlink("../../blobs/cafe0123", snap.join("w.bin")).unwrap();
        r.git_ref("main", &commit("z"));
    }
    // p7: a snapshot link to a blob that is in neither cache.
    let r = Hub::new(&env.repo.join("p7/model_cache")).repo("model", "org/q");
    let snap = r.path.join("snapshots").join(commit("q"));
    fs::create_dir_all(&snap).unwrap();
    symlink(
        format!("../../blobs/{}", fixtures::sha256_hex(b"lost")),
        snap.join("w.bin"),
    )
    .unwrap();
    r.git_ref("main", &commit("q"));

    let (_, dry) = migrate_json(&env, &[]);
    for (p, why) in [
        ("p2", "differ in size"),
        ("p4", "differs from"),
        ("p5", "differ"),
        ("p7", "in neither cache"),
    ] {
        let c = cache_report(&env, &dry, p);
        assert!(problems(c).contains(why), "{p}: {c:#}");
    }
    for p in ["p3", "p6"] {
        assert_eq!(problems(cache_report(&env, &dry, p)), "", "{p}");
    }

    let (code, _) = migrate_json(&env, &["--apply"]);
    assert_eq!(code, Some(1));
    for p in ["p2", "p4", "p5", "p7"] {
        assert!(
            env.repo.join(p).join("model_cache").exists(),
            "{p} was removed"
        );
    }
    for p in ["p3", "p6"] {
        assert!(
            !env.repo.join(p).join("model_cache").exists(),
            "{p} was kept"
        );
    }
    let y = env.repo.join("p2/model_cache/models--org--y");
    assert_eq!(fs::read(y.join("blobs").join(&sha_right)).unwrap(), right);
    // A repo moves whole or not at all.
    assert!(!central_y.path.join("refs/main").exists());
    assert!(
        !central_y
            .path
            .join("blobs")
            .join(fixtures::sha256_hex(&[4u8; 1_000]))
            .exists()
    );
    assert_eq!(
        fs::read_to_string(
            env.repo
                .join("p5/model_cache/models--org--z/blobs/cafe0123")
        )
        .unwrap(),
        "BBBB"
    );
    assert_eq!(
        fs::read_to_string(central_z.path.join("blobs/cafe0123")).unwrap(),
        "AAAA"
    );
    assert_eq!(
        fs::read_to_string(env.home.join("models/p4/notes.txt")).unwrap(),
        "longer text"
    );
    assert!(!hub_dir(&env).join("models--org--q").exists());
}

#[test]
fn migrate_keeps_the_central_ref_and_a_loose_file_whose_place_is_taken() {
    let env = TestEnv::new();
    let hub = Hub::new(&hub_dir(&env));
    let central = hub.repo("model", "org/r");
    central.snapshot(&commit("r1"), &[lfs("w.bin", &[5u8; 1_000])]);
    central.git_ref("main", &commit("r1"));
    let r = Hub::new(&env.repo.join("p8/model_cache")).repo("model", "org/r");
    r.snapshot(&commit("r2"), &[lfs("w.bin", &[6u8; 1_000])]);
    r.git_ref("main", &commit("r2"));
    // Loose weights whose place in the custom folder holds something else.
    let taken: Vec<u8> = (0..1_200_000u32).map(|i| (i % 241) as u8).collect();
    let taken_path = env.repo.join("p9/weights/a.safetensors");
    fs::create_dir_all(taken_path.parent().unwrap()).unwrap();
    fs::write(&taken_path, &taken).unwrap();
    let other = env.home.join("models/p9/weights/a.safetensors");
    fs::create_dir_all(other.parent().unwrap()).unwrap();
    fs::write(&other, "someone else's weights").unwrap();

    let (code, _) = migrate_json(&env, &["--apply"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        fs::read_to_string(central.path.join("refs/main")).unwrap(),
        commit("r1"),
        "the central ref was replaced"
    );
    assert_eq!(fs::read(&taken_path).unwrap(), taken);
    assert_eq!(fs::read(&other).unwrap(), b"someone else's weights");
}

#[test]
fn migrate_keeps_a_cache_whose_central_repo_is_a_link_out_of_the_hub() {
    let env = TestEnv::new();
    // The central copy of org/s was archived: its folder is a link to another drive.
    let drive = env.tmp.path().join("drive/models--org--s");
    for d in ["blobs", "refs", "snapshots"] {
        fs::create_dir_all(drive.join(d)).unwrap();
    }
    fs::create_dir_all(hub_dir(&env)).unwrap();
    symlink(&drive, hub_dir(&env).join("models--org--s")).unwrap();
    let data = [8u8; 2_500];
    let r = Hub::new(&env.repo.join("p12/model_cache")).repo("model", "org/s");
    r.snapshot(&commit("s"), &[lfs("w.bin", &data)]);
    r.git_ref("main", &commit("s"));
    let out = env.run(&["migrate", "--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert_eq!(
        fs::read(r.path.join("blobs").join(fixtures::sha256_hex(&data))).unwrap(),
        data
    );
    assert_eq!(fs::read_dir(drive.join("blobs")).unwrap().count(), 0);
}
