//! migrate against hostile but realistic layouts: each test builds the situation that once
//! lost data and checks that every byte the user had is still where it was (or moved whole).
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use common::TestEnv;
use common::fixtures::{Hub, commit, lfs};

fn model_cache_with(env: &TestEnv, id: &str, data: &[u8]) -> std::path::PathBuf {
    let mc = env.repo.join("model_cache");
    let r = Hub::new(&mc).repo("model", id);
    r.snapshot(&commit("a"), &[lfs("model.safetensors", data)]);
    r.git_ref("main", &commit("a"));
    mc
}

fn migrate(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let mut a = vec!["migrate"];
    a.extend_from_slice(args);
    env.run(&a)
}

#[test]
fn a_central_hub_that_is_a_link_into_the_project_is_never_migrated_into_itself() {
    let env = TestEnv::new();
    let mc = model_cache_with(&env, "o/m", b"the only copy");
    fs::create_dir_all(env.home.join(".cache/huggingface")).unwrap();
    symlink(&mc, env.home.join(".cache/huggingface/hub")).unwrap();
    let before = env.snapshot();
    let out = migrate(&env, &["--apply"]);
    // The project holds the real hub: it is refused as a whole, nothing changed.
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("modelenv manages"));
    let changed = env.user_changes(&before);
    assert!(changed.is_empty(), "{changed:?}");
    let blobs = mc.join("models--o--m/blobs");
    assert_eq!(fs::read_dir(&blobs).unwrap().count(), 1);
}

#[test]
fn a_blobs_folder_that_links_to_user_files_is_not_emptied() {
    let env = TestEnv::new();
    let mc = model_cache_with(&env, "o/m", b"weights");
    let blobs = mc.join("models--o--m/blobs");
    let shared = env.repo.join("shared_weights");
    fs::rename(&blobs, &shared).unwrap();
    fs::write(shared.join("NOTES.txt"), "my notes").unwrap();
    symlink("../../shared_weights", &blobs).unwrap();
    let out = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert_eq!(
        fs::read_to_string(shared.join("NOTES.txt")).unwrap(),
        "my notes"
    );
    assert_eq!(fs::read_dir(&shared).unwrap().count(), 2);
    // Nothing half-moved: no ref centrally without its snapshot and blobs.
    assert!(
        !env.home
            .join(".cache/huggingface/hub/models--o--m/refs/main")
            .exists()
    );
}

#[test]
fn a_link_inside_the_cache_keeps_the_cache_and_what_it_points_to() {
    let env = TestEnv::new();
    let mc = model_cache_with(&env, "o/m", b"weights");
    let ckpt = env.repo.join("training/checkpoints/run7");
    fs::create_dir_all(&ckpt).unwrap();
    fs::write(ckpt.join("model.pt"), "training state").unwrap();
    symlink("../training/checkpoints", mc.join("checkpoints")).unwrap();
    let dotenv = env.repo.join(".env");
    fs::write(&dotenv, "HF_CACHE_DIR=./model_cache\n").unwrap();
    let out = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    // The project keeps using the cache that stays.
    assert_eq!(
        fs::read_to_string(&dotenv).unwrap(),
        "HF_CACHE_DIR=./model_cache\n"
    );
    assert!(
        common::stderr(&out).contains(".env:1 names ./model_cache, which stays where it is"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(
        fs::read_to_string(ckpt.join("model.pt")).unwrap(),
        "training state"
    );
    assert!(
        fs::symlink_metadata(mc.join("checkpoints")).is_ok(),
        "the link was removed"
    );
}

#[test]
fn a_same_named_same_sized_file_with_other_content_is_kept() {
    let env = TestEnv::new();
    let mc = model_cache_with(&env, "o/m", b"weights");
    let hub = env.home.join(".cache/huggingface/hub");
    fs::create_dir_all(hub.join("models--o--m/blobs")).unwrap();
    fs::write(hub.join("models--o--m/blobs/checkpoint.pt"), "central AAAA").unwrap();
    fs::write(mc.join("models--o--m/blobs/checkpoint.pt"), "project BBBB").unwrap();
    let out = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("differ"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(
        fs::read_to_string(mc.join("models--o--m/blobs/checkpoint.pt")).unwrap(),
        "project BBBB"
    );
}

#[test]
fn an_interrupted_migrate_resumed_later_keeps_what_the_user_added_since() {
    let env = TestEnv::new();
    let mc = model_cache_with(&env, "o/m", b"weights");
    let first = env
        .cmd(&["migrate", "--apply"])
        .env("MODELENV_TEST_KILL_AFTER", "2")
        .output()
        .unwrap();
    assert!(common::killed(&first), "{}", common::stderr(&first));
    // Later, new work lands in the cache; then an unrelated command resumes the old plan.
    let adapter = mc.join("my-finetune/adapter.safetensors");
    fs::create_dir_all(adapter.parent().unwrap()).unwrap();
    fs::write(&adapter, "new work").unwrap();
    let out = env.run(&["prune", "--apply"]);
    assert!(
        common::stderr(&out).contains("interrupted"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(fs::read_to_string(&adapter).unwrap(), "new work");
    // The model itself is safe centrally.
    let hub = env.home.join(".cache/huggingface/hub/models--o--m");
    let snap = hub
        .join("snapshots")
        .join(commit("a"))
        .join("model.safetensors");
    assert_eq!(fs::read(&snap).unwrap(), b"weights");
    assert!(Path::new(&snap).exists());
}

#[test]
fn a_central_disk_too_small_is_refused_before_anything_changes() {
    let env = TestEnv::new();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    model_cache_with(&env, "o/big", &big);
    fs::write(
        env.repo.join(".env.example"),
        "HF_CACHE_DIR=./model_cache\n",
    )
    .unwrap();
    let central = env.tmp.path().join("small-disk");
    fs::create_dir_all(&central).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&central)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("cannot mount a small tmpfs here (not root?); skipped");
        return;
    }
    let before = env.snapshot();
    let hf = central.join("hf");
    let out = migrate(&env, &["--hf-home", hf.to_str().unwrap(), "--apply"]);
    let after = env.snapshot();
    let central_entries = fs::read_dir(&central).unwrap().count();
    let _ = std::process::Command::new("umount").arg(&central).status();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("free"),
        "{}",
        common::stderr(&out)
    );
    // Only modelenv's own state folder (its lock) may have appeared.
    let changed: Vec<_> = common::changed(&after, &before)
        .into_iter()
        .filter(|p| !p.starts_with("home/.local"))
        .collect();
    assert_eq!(changed, Vec::<std::path::PathBuf>::new());
    assert_eq!(
        central_entries, 0,
        "something was written to the small disk"
    );
}

#[test]
fn a_project_revision_whose_ref_the_central_store_names_otherwise_is_not_merged() {
    let env = TestEnv::new();
    let hub = Hub::new(&env.home.join(".cache/huggingface/hub"));
    let central = hub.repo("model", "o/m");
    central.snapshot(&commit("A"), &[lfs("model.safetensors", b"weights A")]);
    central.git_ref("main", &commit("A"));
    let project = Hub::new(&env.repo.join("model_cache")).repo("model", "o/m");
    project.snapshot(
        &commit("B"),
        &[lfs("model.safetensors", b"newer weights B")],
    );
    project.git_ref("main", &commit("B"));
    let out = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("another commit"),
        "{}",
        common::stderr(&out)
    );
    // The project's revision is where it was, with its ref; prune finds nothing of it.
    env.ok(&["prune", "--apply", "--include-unreferenced"]);
    let b = project
        .path
        .join("snapshots")
        .join(commit("B"))
        .join("model.safetensors");
    assert_eq!(fs::read(b).unwrap(), b"newer weights B");
}

#[test]
fn a_cache_that_stays_stays_whole() {
    // A source folder named like a cache, holding a link: nothing in it is moved.
    let env = TestEnv::new();
    let src = env.repo.join("integrations/huggingface");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("__init__.py"), "from .sub import util\n").unwrap();
    fs::write(src.join("sub/util.py"), "X = 1\n").unwrap();
    symlink("util.py", src.join("sub/alias.py")).unwrap();
    let before = env.snapshot();
    let _ = migrate(&env, &["--apply"]);
    let changed: Vec<_> = common::changed(&env.snapshot(), &before)
        .into_iter()
        .filter(|p| p.starts_with("repo"))
        .collect();
    assert_eq!(changed, Vec::<std::path::PathBuf>::new());
}

#[test]
fn a_project_cache_that_is_a_link_to_the_central_hub_is_left_alone() {
    let env = TestEnv::new();
    let hub_dir = env.home.join(".cache/huggingface/hub");
    let r = Hub::new(&hub_dir).repo("model", "o/m");
    r.snapshot(
        &commit("a"),
        &[lfs("model.safetensors", b"central weights")],
    );
    r.git_ref("main", &commit("a"));
    symlink(&hub_dir, env.repo.join("model_cache")).unwrap();
    let out = migrate(&env, &["--apply"]);
    assert_ne!(out.status.code(), Some(101), "{}", common::stderr(&out));
    let w = r
        .path
        .join("snapshots")
        .join(commit("a"))
        .join("model.safetensors");
    assert_eq!(fs::read(w).unwrap(), b"central weights");
    assert!(fs::symlink_metadata(env.repo.join("model_cache")).is_ok());
}

#[test]
fn a_project_inside_the_central_store_is_not_migrated_into_it() {
    // The project (a git repo) sits inside HF_HOME: its cache lies in a central store.
    let env = TestEnv::new();
    let hf = env.repo.join("hf-home");
    let mc = model_cache_with(&env, "o/m", b"weights");
    let inner = hf.join("proj");
    fs::create_dir_all(&inner).unwrap();
    fs::rename(&mc, inner.join("model_cache")).unwrap();
    let out = migrate(&env, &["--hf-home", hf.to_str().unwrap(), "--apply"]);
    assert_ne!(out.status.code(), Some(101), "{}", common::stderr(&out));
    let blob = inner
        .join("model_cache/models--o--m/blobs")
        .join(common::fixtures::sha256_hex(b"weights"));
    assert_eq!(fs::read(blob).unwrap(), b"weights");
}

#[test]
fn a_snapshot_file_that_differs_from_the_central_one_is_kept_and_an_equal_one_dropped() {
    // The no-symlink layout: snapshot files are real files, compared by content.
    for (local, same) in [(&b"config v1"[..], true), (&b"config v2 edited"[..], false)] {
        let env = TestEnv::new();
        let hub = Hub::new(&env.home.join(".cache/huggingface/hub"));
        let central = hub.repo("model", "o/m");
        central.snapshot_no_symlinks(&commit("a"), &[lfs("config.json", b"config v1")]);
        central.git_ref("main", &commit("a"));
        let project = Hub::new(&env.repo.join("model_cache")).repo("model", "o/m");
        project.snapshot_no_symlinks(&commit("a"), &[lfs("config.json", local)]);
        project.git_ref("main", &commit("a"));
        let out = migrate(&env, &["--apply"]);
        let kept = project
            .path
            .join("snapshots")
            .join(commit("a"))
            .join("config.json");
        if same {
            assert!(out.status.success(), "{}", common::stderr(&out));
            assert!(!kept.exists(), "an identical copy was not dropped");
        } else {
            assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
            assert_eq!(
                fs::read(&kept).unwrap(),
                local,
                "an edited config was dropped"
            );
        }
        let c = central
            .path
            .join("snapshots")
            .join(commit("a"))
            .join("config.json");
        assert_eq!(fs::read(c).unwrap(), b"config v1");
    }
}

/// The same model centrally and in the project, with one of the two copies bit-rotted (same
/// name, same size): (central blob, local blob).
fn rotted_pair(env: &TestEnv, rot_central: bool) -> (std::path::PathBuf, std::path::PathBuf) {
    let good = b"the real weights";
    let mc = model_cache_with(env, "o/m", good);
    let hub = env.home.join(".cache/huggingface/hub");
    let r = Hub::new(&hub).repo("model", "o/m");
    r.snapshot(&commit("a"), &[lfs("model.safetensors", good)]);
    r.git_ref("main", &commit("a"));
    let name = common::fixtures::sha256_hex(good);
    let central = hub.join("models--o--m/blobs").join(&name);
    let local = mc.join("models--o--m/blobs").join(&name);
    let rotted = if rot_central { &central } else { &local };
    fs::write(rotted, b"the real weighTs").unwrap();
    (central, local)
}

#[test]
fn a_damaged_central_blob_is_replaced_by_the_verified_local_copy_and_kept_aside() {
    let env = TestEnv::new();
    let (central, local) = rotted_pair(&env, true);
    let out = env.run(&["migrate", "--apply", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(fs::read(&central).unwrap(), b"the real weights");
    let aside = central.with_file_name(format!(
        "{}.damaged",
        central.file_name().unwrap().to_str().unwrap()
    ));
    assert_eq!(fs::read(&aside).unwrap(), b"the real weighTs");
    assert!(!local.exists(), "the local copy should have moved");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let repaired = report["caches"][0]["repaired"][0].as_str().unwrap();
    assert!(repaired.contains(".damaged"), "{repaired}");
}

#[test]
fn a_damaged_local_blob_leaves_both_copies_and_the_cache() {
    let env = TestEnv::new();
    let (central, local) = rotted_pair(&env, false);
    let before = env.snapshot();
    let out = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert_eq!(fs::read(&central).unwrap(), b"the real weights");
    assert_eq!(fs::read(&local).unwrap(), b"the real weighTs");
    let changed = env.user_changes(&before);
    assert!(changed.is_empty(), "{changed:?}");
}

#[test]
fn both_copies_damaged_keeps_both() {
    let env = TestEnv::new();
    let (central, local) = rotted_pair(&env, true);
    fs::write(&local, b"the real weightS").unwrap();
    let before = env.snapshot();
    let out = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert_eq!(fs::read(&central).unwrap(), b"the real weighTs");
    assert_eq!(fs::read(&local).unwrap(), b"the real weightS");
    let changed = env.user_changes(&before);
    assert!(changed.is_empty(), "{changed:?}");
}

#[test]
fn a_folder_holding_the_central_store_by_another_spelling_is_refused() {
    // `migrate --apply ..` from ~/src: `..` is the home folder, which holds the central store.
    let env = TestEnv::new();
    let hub = env.home.join(".cache/huggingface/hub");
    let r = Hub::new(&hub).repo("model", "o/m");
    r.snapshot(&commit("a"), &[lfs("model.safetensors", b"central only")]);
    let src = env.home.join("src");
    fs::create_dir_all(src.join("proj/.git")).unwrap();
    let before = env.snapshot();
    let out = env
        .cmd(&["migrate", "--apply", ".."])
        .current_dir(&src)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("modelenv manages"),
        "{}",
        common::stderr(&out)
    );
    let changed = env.user_changes(&before);
    assert!(changed.is_empty(), "{changed:?}");
}

#[test]
fn a_folder_that_does_not_exist_is_an_error() {
    let env = TestEnv::new();
    for verb in ["migrate", "scan"] {
        let out = env.run(&[verb, "/does/not/exist"]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{verb}: {}",
            common::stderr(&out)
        );
        assert!(common::stderr(&out).contains("/does/not/exist"));
    }
}

#[test]
fn a_source_folder_named_like_a_cache_is_not_moved() {
    let env = TestEnv::new();
    let pkg = env.repo.join("backend/app/huggingface");
    fs::create_dir_all(&pkg).unwrap();
    fs::write(pkg.join("__init__.py"), "").unwrap();
    fs::write(pkg.join("client.py"), "def load(): ...\n").unwrap();
    fs::write(pkg.join("README.md"), "our HF client\n").unwrap();
    let before = env.snapshot();
    let out = migrate(&env, &["--apply", "--json"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["caches"].as_array().unwrap().len(), 0, "{report}");
    let changed = env.user_changes(&before);
    assert!(changed.is_empty(), "{changed:?}");
}

#[test]
fn a_project_hf_home_merges_its_hub_and_keeps_the_rest() {
    // HF_HOME=./model_cache: the hub cache is inside, next to a token and datasets.
    let env = TestEnv::new();
    let home = env.repo.join("model_cache");
    let r = Hub::new(&home.join("hub")).repo("model", "o/m");
    r.snapshot(&commit("a"), &[lfs("model.safetensors", b"weights")]);
    r.git_ref("main", &commit("a"));
    fs::write(home.join("token"), "hf_secret").unwrap();
    fs::create_dir_all(home.join("datasets")).unwrap();
    fs::write(home.join("datasets/x.arrow"), "rows").unwrap();
    let out = migrate(&env, &["--apply"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let central = env.home.join(".cache/huggingface/hub/models--o--m/blobs");
    assert_eq!(
        fs::read(central.join(common::fixtures::sha256_hex(b"weights"))).unwrap(),
        b"weights"
    );
    assert!(
        !home.join("hub").exists(),
        "the project hub should have merged"
    );
    assert_eq!(fs::read_to_string(home.join("token")).unwrap(), "hf_secret");
    assert_eq!(
        fs::read_to_string(home.join("datasets/x.arrow")).unwrap(),
        "rows"
    );
}

#[test]
fn a_model_archived_into_a_repo_is_not_migrated() {
    let env = TestEnv::new();
    let hub = env.home.join(".cache/huggingface/hub");
    let r = Hub::new(&hub).repo("model", "o/m");
    r.snapshot(
        &commit("a"),
        &[lfs("model.safetensors", b"archived weights")],
    );
    r.git_ref("main", &commit("a"));
    let archive = env.repo.join("archive");
    let out = env.run(&[
        "models",
        "archive",
        "hf-hub:o/m",
        "--to",
        archive.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let before = env.snapshot();
    let out = migrate(&env, &["--apply", "--json"]);
    assert_ne!(out.status.code(), Some(101), "{}", common::stderr(&out));
    let changed = env.user_changes(&before);
    assert!(changed.is_empty(), "{changed:?}");
    // Left alone for what it is (an archive), not for a failure on the way.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = report["caches"][0]["problems"].to_string();
    assert!(
        problems.contains("left alone") && problems.contains("archive/models--o--m"),
        "{problems}"
    );
    let blob = archive
        .join("models--o--m/blobs")
        .join(common::fixtures::sha256_hex(b"archived weights"));
    assert_eq!(fs::read(blob).unwrap(), b"archived weights");
}

/// Holds modelenv's state lock with util-linux `flock` for `secs` seconds.
fn hold_state_lock(env: &TestEnv, secs: &str) -> std::process::Child {
    let state = env.home.join(".local/state/modelenv");
    fs::create_dir_all(&state).unwrap();
    common::hold_flock(&state.join("modelenv.lock"), secs)
}

#[test]
fn a_lock_released_a_moment_later_is_waited_for() {
    // What a rerun right after a SIGKILL meets if the lock outlives the process briefly.
    let env = TestEnv::new();
    let mc = model_cache_with(&env, "o/m", b"weights");
    let mut holder = hold_state_lock(&env, "0.5");
    let out = migrate(&env, &["--apply"]);
    holder.wait().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(!mc.exists());
}

#[test]
fn a_lock_held_by_another_run_is_refused_changing_nothing() {
    let env = TestEnv::new();
    let mc = model_cache_with(&env, "o/m", b"weights");
    let mut holder = hold_state_lock(&env, "30");
    let before = env.snapshot();
    let out = migrate(&env, &["--apply"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("is held"),
        "{}",
        common::stderr(&out)
    );
    let changed = env.user_changes(&before);
    assert!(changed.is_empty(), "{changed:?}");
    assert!(mc.exists());
}

fn age(p: &Path, secs: i64) {
    let t = filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - secs, 0);
    filetime::set_symlink_file_times(p, t, t).unwrap();
}

#[test]
fn a_download_in_progress_in_a_project_cache_keeps_the_cache() {
    let env = TestEnv::new();
    let mc = model_cache_with(&env, "o/m", b"weights");
    let part = mc
        .join("models--o--m/blobs")
        .join(format!("{}.incomplete", "a".repeat(64)));
    fs::write(&part, b"half a download").unwrap();
    // Fresh: a download may be writing it.
    let out = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("download in progress"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(fs::read(&part).unwrap(), b"half a download");
    // Old, but huggingface_hub's lock for it is held.
    age(&part, 7200);
    let lock = mc
        .join(".locks/models--o--m")
        .join(format!("{}.lock", "a".repeat(64)));
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let mut holder = common::hold_flock(&lock, "30");
    let out = migrate(&env, &["--apply"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("lock is held"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(fs::read(&part).unwrap(), b"half a download");
    // Old and unlocked: an abandoned download, which goes with the cache.
    let out = migrate(&env, &["--apply"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(!mc.exists());
}

/// With CUSTOM_MODEL_DIR = HF_HOME (exported by the user; install refuses only a custom folder
/// inside a library's cache), a monorepo project named `hub` would have its own files (an
/// adapter inside a repo folder, loose weights) carried into the hub cache, where deleting
/// the repo takes them: they stay, with their cache, and the reason is given.
#[test]
fn a_users_file_never_goes_into_a_library_cache_by_way_of_the_custom_folder() {
    let env = TestEnv::new();
    let hf_home = env.home.join(".cache/huggingface");
    let env = env.with_env("CUSTOM_MODEL_DIR", hf_home.to_str().unwrap());
    let mc = env.repo.join("hub/model_cache");
    let r = Hub::new(&mc).repo("model", "o/m");
    r.snapshot(&commit("a"), &[lfs("model.safetensors", b"weights")]);
    r.git_ref("main", &commit("a"));
    let adapter = mc.join("models--o--m/finetune/adapter_model.safetensors");
    fs::create_dir_all(adapter.parent().unwrap()).unwrap();
    fs::write(&adapter, b"the only adapter").unwrap();
    fs::write(mc.join("loose.safetensors"), b"loose weights").unwrap();
    // And one named `assets` (huggingface_hub's assets cache is HF_HOME/assets).
    let mc2 = env.repo.join("assets/model_cache");
    let r = Hub::new(&mc2).repo("model", "o/n");
    r.snapshot(&commit("b"), &[lfs("model.safetensors", b"other weights")]);
    r.git_ref("main", &commit("b"));
    let notes = mc2.join("models--o--n/NOTES.md");
    fs::write(&notes, b"my notes").unwrap();
    let before = env.snapshot();
    let out = migrate(&env, &["--apply"]);
    let err = common::stderr(&out);
    assert!(err.contains("lies inside the libraries' cache"), "{err}");
    assert_eq!(
        env.user_changes(&before),
        Vec::<std::path::PathBuf>::new(),
        "{err}"
    );
    assert_eq!(fs::read(&adapter).unwrap(), b"the only adapter");
    assert!(!hf_home.join("hub/loose.safetensors").exists());
    assert!(!hf_home.join("hub/models--o--m/finetune").exists());
    assert_eq!(fs::read(&notes).unwrap(), b"my notes");
    assert!(!hf_home.join("assets/model_cache").exists());
}

/// Every regular file's bytes below `dirs` (links not followed).
fn all_contents(dirs: &[&Path]) -> Vec<Vec<u8>> {
    dirs.iter()
        .flat_map(|d| {
            walkdir::WalkDir::new(d)
                .follow_links(false)
                .into_iter()
                .flatten()
        })
        .filter(|e| e.file_type().is_file())
        .map(|e| fs::read(e.path()).unwrap())
        .collect()
}

/// Two project caches hold the same repo; in the first, the blob's content is not what its
/// name promises. Same filesystem (the first is renamed in without a read) and across two
/// (its copy is refused): the good copy in the second is never dropped on the strength of the
/// first, and a later run puts it in place of the damaged one.
#[test]
fn a_cache_never_counts_on_a_copy_another_cache_brings_unchecked() {
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    for hf_home in [None, Some(shm.path().join("hf"))] {
        let env = TestEnv::new();
        let hub = match &hf_home {
            Some(h) => h.join("hub"),
            None => env.home.join(".cache/huggingface/hub"),
        };
        let good = b"GOOD-WEIGHTS-0123";
        let sha = common::fixtures::sha256_hex(good);
        for (dir, data) in [
            ("a/model_cache", b"EVIL-WEIGHTS-0123"),
            ("b/model_cache", good),
        ] {
            let r = Hub::new(&env.repo.join(dir)).repo("model", "o/m");
            r.snapshot(&commit("a"), &[lfs("model.safetensors", good)]);
            r.git_ref("main", &commit("a"));
            fs::write(r.path.join("blobs").join(&sha), data).unwrap();
        }
        let mut args = vec!["migrate", "--apply"];
        let h;
        if let Some(p) = &hf_home {
            h = p.to_str().unwrap().to_owned();
            args.extend(["--hf-home", h.as_str()]);
        }
        let out = migrate(&env, &args[1..]);
        assert_ne!(out.status.code(), Some(101), "{}", common::stderr(&out));
        let everything = all_contents(&[&env.repo, &hub]);
        assert!(
            everything.iter().any(|c| c == good),
            "{hf_home:?}: the good copy is gone\n{}",
            common::stderr(&out)
        );
        let dangling: Vec<_> = walkdir::WalkDir::new(&hub)
            .into_iter()
            .flatten()
            .filter(|e| e.path_is_symlink() && fs::metadata(e.path()).is_err())
            .map(|e| e.path().to_path_buf())
            .collect();
        assert_eq!(dangling, Vec::<std::path::PathBuf>::new(), "{hf_home:?}");
        if hf_home.is_none() {
            // Run again: the verified copy replaces the damaged central blob.
            let _ = migrate(&env, &args[1..]);
            let blob = hub.join("models--o--m/blobs").join(&sha);
            assert_eq!(fs::read(blob).unwrap(), good);
        }
    }
}

/// A project whose two caches hold the same repo at different commits: the second, whose ref
/// would be refused once the first's is written, stays whole, and its project's config is
/// not pointed at the central store (which would serve the other commit).
#[test]
fn two_caches_with_the_same_ref_at_different_commits_keep_the_second_and_its_config() {
    let env = TestEnv::new();
    for (dir, label) in [("a/model_cache", "one"), ("b/model_cache", "two")] {
        let r = Hub::new(&env.repo.join(dir)).repo("model", "o/m");
        r.snapshot(
            &commit(label),
            &[lfs("model.safetensors", format!("rev-{label}").as_bytes())],
        );
        r.git_ref("main", &commit(label));
    }
    fs::write(env.repo.join(".env"), "HF_HUB_CACHE=./b/model_cache\n").unwrap();
    let out = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let b = env.repo.join("b/model_cache/models--o--m");
    let w = b
        .join("snapshots")
        .join(commit("two"))
        .join("model.safetensors");
    assert_eq!(fs::read(w).unwrap(), b"rev-two");
    assert_eq!(
        fs::read_to_string(env.repo.join(".env")).unwrap(),
        "HF_HUB_CACHE=./b/model_cache\n"
    );
}

/// What a cache holds that huggingface_hub would not have made keeps the cache: a ref that is
/// a link, a snapshot link to a file outside the cache, notes inside `.locks`.
#[test]
fn a_ref_link_an_outside_snapshot_link_or_notes_in_locks_keep_the_cache() {
    type Setup = fn(&TestEnv, &std::path::Path);
    let cases: [(&str, Setup); 4] = [
        ("a ref that is a link", |env, repo| {
            let store = env.repo.join("refstore");
            fs::create_dir_all(&store).unwrap();
            fs::write(store.join("main"), commit("a")).unwrap();
            fs::remove_file(repo.join("refs/main")).unwrap();
            symlink(store.join("main"), repo.join("refs/main")).unwrap();
        }),
        ("a snapshot link outside", |env, repo| {
            let mine = env.repo.join("finetuned");
            fs::create_dir_all(&mine).unwrap();
            let sha = common::fixtures::sha256_hex(b"weights");
            fs::write(mine.join(&sha), b"FINETUNED").unwrap();
            let link = repo
                .join("snapshots")
                .join(commit("a"))
                .join("model.safetensors");
            fs::remove_file(&link).unwrap();
            symlink(mine.join(&sha), &link).unwrap();
        }),
        ("a file of the user's named trees", |_, repo| {
            fs::write(repo.join("trees"), "USER NOTES").unwrap();
        }),
        ("notes in .locks", |_, repo| {
            let notes = repo.parent().unwrap().join(".locks/sub/notes.txt");
            fs::create_dir_all(notes.parent().unwrap()).unwrap();
            fs::write(notes, "my notes").unwrap();
        }),
    ];
    for (what, setup) in cases {
        let env = TestEnv::new();
        let mc = model_cache_with(&env, "o/m", b"weights");
        setup(&env, &mc.join("models--o--m"));
        let before = env.snapshot();
        let out = migrate(&env, &["--apply"]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {}",
            common::stderr(&out)
        );
        assert_eq!(
            env.user_changes(&before),
            Vec::<std::path::PathBuf>::new(),
            "{what}: {}",
            common::stderr(&out)
        );
    }
}

/// A folder in the cache this user cannot read (run as `nobody`; root reads everything): the
/// cache is kept before anything moves, instead of being found half-way (blob moved, cache
/// not removable, project left pointing at a cache without it).
#[test]
fn an_unreadable_folder_keeps_the_cache_before_anything_moves() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (chown, setpriv)");
        return;
    }
    let env = TestEnv::new();
    let mc = model_cache_with(&env, "o/m", b"weights");
    let locked = mc.join("models--o--m/private");
    fs::create_dir_all(&locked).unwrap();
    fs::write(locked.join("notes"), "mine").unwrap();
    for e in walkdir::WalkDir::new(env.tmp.path()).into_iter().flatten() {
        std::os::unix::fs::lchown(e.path(), Some(65534), Some(65534)).unwrap();
    }
    fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let program = env.tmp.path().join("modelenv");
    fs::copy(common::bin(), &program).unwrap();
    let cmd = env.cmd(&["migrate", "--apply"]);
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&program)
        .args(cmd.get_args())
        .env_clear()
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))),
        )
        .current_dir(&env.repo)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("cannot read"),
        "{}",
        common::stderr(&out)
    );
    let blob = mc
        .join("models--o--m/blobs")
        .join(common::fixtures::sha256_hex(b"weights"));
    assert_eq!(fs::read(blob).unwrap(), b"weights");
    fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(fs::read_to_string(locked.join("notes")).unwrap(), "mine");
}

/// On one filesystem a cache whose blobs the central store lacks moves by renames: migrate
/// reads no byte of them (the README's speed claim); a blob two caches share is read to
/// check both copies.
#[test]
fn one_filesystem_reads_nothing_but_the_copies_it_must_compare() {
    let env = TestEnv::new();
    model_cache_with(&env, "o/m", &[7u8; 100_000]);
    let out = env.ok(&["migrate", "--apply", "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["bytes_read"], 0, "{r:#}");

    let env = TestEnv::new();
    for dir in ["a/model_cache", "b/model_cache"] {
        let r = Hub::new(&env.repo.join(dir)).repo("model", "o/m");
        r.snapshot(&commit("a"), &[lfs("model.safetensors", &[7u8; 100_000])]);
        r.git_ref("main", &commit("a"));
    }
    let out = env.ok(&["migrate", "--apply", "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["bytes_read"], 200_000, "{r:#}");
}

/// A config line is pointed at the central store only when what it names moves, or names no
/// folder yet: never when it names a cache that stays, or a folder migrate does not take (one
/// under `target/`, one outside the project); then the project loads what it loaded before.
#[test]
fn a_config_line_follows_only_what_it_names() {
    // Named cache moves while another cache of the project stays: the line follows it.
    let env = TestEnv::new();
    for dir in ["A/model_cache", "B/model_cache"] {
        let r = Hub::new(&env.repo.join(dir)).repo("model", "o/m");
        r.snapshot(&commit("a"), &[lfs("model.safetensors", b"GOODWEIGHTS")]);
        r.git_ref("main", &commit("a"));
    }
    symlink("/tmp", env.repo.join("B/model_cache/somelink")).unwrap();
    fs::write(env.repo.join(".env"), "HF_HUB_CACHE=./A/model_cache\n").unwrap();
    fs::write(env.repo.join("B/.env"), "HF_HUB_CACHE=./model_cache\n").unwrap();
    let out = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(!env.repo.join("A/model_cache").exists());
    let hub = env.home.join(".cache/huggingface/hub");
    assert_eq!(
        common::load_from_cache(&env, &hub, "o/m", "model.safetensors").as_deref(),
        Some(&b"GOODWEIGHTS"[..])
    );
    assert_ne!(
        fs::read_to_string(env.repo.join(".env")).unwrap(),
        "HF_HUB_CACHE=./A/model_cache\n"
    );
    assert_eq!(
        fs::read_to_string(env.repo.join("B/.env")).unwrap(),
        "HF_HUB_CACHE=./model_cache\n"
    );
    assert!(env.repo.join("B/model_cache/models--o--m").is_dir());

    // A folder migrate does not take (under target/), one outside the project, and one that
    // does not exist yet.
    let env = TestEnv::new();
    let r = Hub::new(&env.repo.join("target/hf")).repo("model", "o/m");
    r.snapshot(&commit("b"), &[lfs("model.safetensors", b"PROJECT-NEW")]);
    r.git_ref("main", &commit("b"));
    let shared = env.tmp.path().join("shared");
    fs::create_dir_all(&shared).unwrap();
    fs::write(shared.join("weights.bin"), b"shared").unwrap();
    let lines = "HF_HUB_CACHE=./target/hf\nHF_HOME=../shared\nHF_CACHE_DIR=./model_cache\n";
    fs::write(env.repo.join(".env"), lines).unwrap();
    let out = migrate(&env, &["--apply"]);
    assert_ne!(out.status.code(), Some(101), "{}", common::stderr(&out));
    let now = fs::read_to_string(env.repo.join(".env")).unwrap();
    assert!(
        now.starts_with("HF_HUB_CACHE=./target/hf\nHF_HOME=../shared\n"),
        "{now}"
    );
    assert!(!now.contains("HF_CACHE_DIR=./model_cache"), "{now}");
}

/// A line naming the folder that holds two caches waits for both: killed after any change,
/// with the second cache changed before the rerun (so the interrupted move of it is refused),
/// the `.env` is pointed at the central store only if both models are there. A line whose
/// value holds a variable (python-dotenv expands `./${NAME}`) is left as it is.
#[test]
fn a_config_line_waits_for_every_cache_it_names_and_leaves_variables_alone() {
    for kill in 1..=10 {
        let env = TestEnv::new();
        for (dir, id) in [("caches/a", "o/a"), ("caches/b", "o/b")] {
            let r = Hub::new(&env.repo.join(dir)).repo("model", id);
            r.snapshot(&commit(id), &[lfs("model.safetensors", id.as_bytes())]);
            r.git_ref("main", &commit(id));
        }
        let keep = env.repo.join("keep/hub");
        let r = Hub::new(&keep).repo("model", "o/k");
        r.snapshot(&commit("k"), &[lfs("model.safetensors", b"kept")]);
        r.git_ref("main", &commit("k"));
        symlink("/etc", keep.join("extra")).unwrap();
        let dotenv = "HF_HUB_CACHE=./caches\nNAME=keep/hub\nHF_HOME=./${NAME}\n";
        fs::write(env.repo.join(".env"), dotenv).unwrap();
        let out = env
            .cmd(&["migrate", "--apply"])
            .env("MODELENV_TEST_KILL_AFTER", kill.to_string())
            .output()
            .unwrap();
        let b_blob = env
            .repo
            .join("caches/b/models--o--b/blobs")
            .join(common::fixtures::sha256_hex(b"o/b"));
        if b_blob.exists() {
            let mut f = fs::OpenOptions::new().append(true).open(&b_blob).unwrap();
            std::io::Write::write_all(&mut f, b"!").unwrap();
        }
        let _ = migrate(&env, &["--apply"]);
        let now = fs::read_to_string(env.repo.join(".env")).unwrap();
        assert!(now.contains("HF_HOME=./${NAME}\n"), "kill {kill}: {now}");
        if !now.starts_with("HF_HUB_CACHE=./caches\n") {
            let hub = env.home.join(".cache/huggingface/hub");
            for id in ["o/a", "o/b"] {
                assert!(
                    common::load_from_cache(&env, &hub, id, "model.safetensors").is_some(),
                    "kill {kill}: .env points at the central store without {id}\n{now}"
                );
            }
        }
        if !common::killed(&out) {
            break;
        }
    }
}

/// A cache part of which would go to CUSTOM_MODEL_DIR (a folder beside the repo folders, as
/// sentence-transformers writes, or loose weights) stays when a config line names it: the
/// line, pointed at the hub cache, could not follow, and the project would load nothing.
#[test]
fn a_named_cache_whose_files_would_go_to_the_custom_folder_stays_with_its_line() {
    let env = TestEnv::new();
    let mc = model_cache_with(&env, "o/m", b"hub weights");
    let st = mc.join("sentence-transformers_all-MiniLM-L6-v2");
    fs::create_dir_all(&st).unwrap();
    fs::write(st.join("model.safetensors"), b"st weights").unwrap();
    fs::write(env.repo.join(".env"), "HF_CACHE_DIR=./model_cache\n").unwrap();
    let before = env.snapshot();
    let out = migrate(&env, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("where that line could not follow"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(env.user_changes(&before), Vec::<std::path::PathBuf>::new());

    // Not named by any config line, the same cache moves: the folder to CUSTOM_MODEL_DIR.
    fs::remove_file(env.repo.join(".env")).unwrap();
    env.ok(&["migrate", "--apply"]);
    assert!(!mc.exists());
    let moved = env
        .home
        .join("models/sentence-transformers_all-MiniLM-L6-v2/model.safetensors");
    assert_eq!(fs::read(moved).unwrap(), b"st weights");
}
