//! prune, rm and archive against hostile but realistic stores: each test builds the situation
//! that once lost data and checks that what another model needs is still there.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::os::unix::fs::symlink;

use common::TestEnv;
use common::fixtures::{self, Hub, commit, lfs};

#[test]
fn prune_keeps_another_repos_blob_that_a_detached_revision_links_to() {
    let env = TestEnv::new();
    let hub = Hub::new(&env.home.join(".cache/huggingface/hub"));
    let y = hub.repo("model", "o/Y");
    y.snapshot(&commit("y"), &[lfs("model.safetensors", b"Y weights")]);
    y.git_ref("main", &commit("y"));
    let x = hub.repo("model", "o/X");
    x.snapshot(&commit("x"), &[lfs("model.safetensors", b"X weights")]);
    x.git_ref("main", &commit("x"));
    // A detached revision of X whose file is a link into Y's blobs (a hand-made dedupe).
    let detached = x.path.join("snapshots").join(commit("old"));
    fs::create_dir_all(&detached).unwrap();
    let y_blob = format!(
        "../../../models--o--Y/blobs/{}",
        fixtures::sha256_hex(b"Y weights")
    );
    symlink(&y_blob, detached.join("model.safetensors")).unwrap();
    env.ok(&["prune", "--apply"]);
    let y_file = y
        .path
        .join("snapshots")
        .join(commit("y"))
        .join("model.safetensors");
    assert_eq!(fs::read(&y_file).unwrap(), b"Y weights", "Y lost its blob");
}

#[test]
fn archive_refuses_a_destination_inside_a_store() {
    let env = TestEnv::new();
    let hub_dir = env.home.join(".cache/huggingface/hub");
    let hub = Hub::new(&hub_dir);
    for id in ["o/z", "o/w"] {
        let r = hub.repo("model", id);
        r.snapshot(&commit(id), &[lfs("model.safetensors", id.as_bytes())]);
        r.git_ref("main", &commit(id));
    }
    let to = hub_dir.join("models--o--w/archive");
    let out = env.run(&[
        "models",
        "archive",
        "hf-hub:o/z",
        "--to",
        to.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("inside the model store"));
    assert!(hub_dir.join("models--o--z").is_dir());
    assert!(!to.exists());
}

/// An unfinished HF download, as huggingface_hub 2.4 names it (`<etag>.<8 hex>.incomplete`),
/// in repo org/m; returns (its path, the lock file huggingface_hub takes for it).
fn download_in_progress(env: &TestEnv) -> (std::path::PathBuf, std::path::PathBuf) {
    let hub_dir = env.home.join(".cache/huggingface/hub");
    let r = Hub::new(&hub_dir).repo("model", "org/m");
    r.snapshot(&commit("a"), &[lfs("model.safetensors", b"weights")]);
    r.git_ref("main", &commit("a"));
    let etag = fixtures::sha256_hex(b"the next file");
    let part = r
        .path
        .join("blobs")
        .join(format!("{etag}.0123abcd.incomplete"));
    fs::write(&part, vec![9u8; 4096]).unwrap();
    let t = filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - 7200, 0);
    filetime::set_file_times(&part, t, t).unwrap();
    let lock = hub_dir
        .join(".locks/models--org--m")
        .join(format!("{etag}.lock"));
    (part, lock)
}

#[test]
fn prune_never_touches_a_download_whose_lock_huggingface_hub_holds() {
    let env = TestEnv::new();
    let (part, lock) = download_in_progress(&env);
    // huggingface_hub's own lock, held by a live Python process while prune runs.
    let mut holder = std::process::Command::new(common::python())
        .args([
            "-c",
            "import sys, time\nfrom huggingface_hub.utils._fixes import WeakFileLock\nwith WeakFileLock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)",
            lock.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "held");
    let out = env.run(&["prune", "--apply"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(part.exists(), "prune deleted a download in progress");
    assert!(
        common::stderr(&out).contains("lock is held"),
        "{}",
        common::stderr(&out)
    );
    // With the lock released, the old unfinished download goes.
    env.ok(&["prune", "--apply"]);
    assert!(!part.exists());
}

#[test]
fn a_repo_downloaded_by_commit_is_kept_unless_asked() {
    let env = TestEnv::new();
    let r = Hub::new(&env.home.join(".cache/huggingface/hub")).repo("model", "org/pinned");
    let snap = r.snapshot(
        &commit("pin"),
        &[lfs("model.safetensors", b"pinned weights")],
    );
    let out = env.ok(&["prune", "--apply"]);
    assert!(
        snap.join("model.safetensors").exists(),
        "the pinned model was deleted"
    );
    assert!(common::stderr(&out).contains("--include-unreferenced"));
    env.ok(&["prune", "--apply", "--include-unreferenced"]);
    assert!(!snap.exists());
}

#[test]
fn a_fifo_as_a_ref_is_a_warning_not_a_hang() {
    let env = TestEnv::new();
    let r = Hub::new(&env.home.join(".cache/huggingface/hub")).repo("model", "org/m");
    r.snapshot(&commit("a"), &[lfs("model.safetensors", b"weights")]);
    let fifo = r.path.join("refs/main");
    fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    for args in [
        &["usage", "--json"][..],
        &["prune", "--apply", "--include-unreferenced"][..],
    ] {
        let mut child = env
            .cmd(args)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let status =
            wait_timeout::ChildExt::wait_timeout(&mut child, std::time::Duration::from_secs(20))
                .unwrap();
        if status.is_none() {
            child.kill().unwrap();
            panic!("modelenv {args:?} hung on a FIFO ref");
        }
    }
    assert!(r.path.join("snapshots").join(commit("a")).exists());
}

fn old(p: &std::path::Path) {
    let t =
        filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - 3 * 3600, 0);
    filetime::set_file_times(p, t, t).unwrap();
}

#[test]
fn ollama_blobs_named_by_manifests_modelenv_cannot_parse_or_reaches_by_a_link_are_kept() {
    let env = TestEnv::new();
    let root = env.home.join(".ollama/models");
    let o = fixtures::Ollama::new(&root);
    o.library(
        "a",
        "latest",
        b"{\"a\":1}",
        &[(fixtures::MODEL, b"model a")],
    );
    // A manifest Ollama accepts whose config layer has no size, and one that is a link.
    let (d1, b1) = o.blob(b"weights of b");
    let (d2, b2) = o.blob(b"config of b");
    let odd = root.join("manifests/registry.ollama.ai/library/b/latest");
    fs::create_dir_all(odd.parent().unwrap()).unwrap();
    fs::write(
        &odd,
        format!(
            "{{\"schemaVersion\":2,\"config\":{{\"digest\":\"sha256:{d2}\"}},\"layers\":[{{\"mediaType\":\"{}\",\"digest\":\"sha256:{d1}\",\"size\":12}}]}}",
            fixtures::MODEL
        ),
    )
    .unwrap();
    let (d3, b3) = o.blob(b"weights of c");
    let dotfiles = env.home.join("dotfiles/c-latest");
    fs::create_dir_all(dotfiles.parent().unwrap()).unwrap();
    fs::write(
        &dotfiles,
        format!(
            "{{\"schemaVersion\":2,\"config\":{{\"digest\":\"sha256:{d3}\",\"size\":12}},\"layers\":[]}}"
        ),
    )
    .unwrap();
    let linked = root.join("manifests/registry.ollama.ai/library/c/latest");
    fs::create_dir_all(linked.parent().unwrap()).unwrap();
    symlink(&dotfiles, &linked).unwrap();
    for b in [&b1, &b2, &b3] {
        old(b);
    }
    env.ok(&["prune", "--apply"]);
    env.ok(&["models", "rm", "ollama:a:latest", "--yes"]);
    for b in [&b1, &b2, &b3] {
        assert!(b.exists(), "{} was deleted", b.display());
    }
}

#[test]
fn an_hf_blob_another_repo_links_to_survives_prune_and_blocks_rm() {
    let env = TestEnv::new();
    let hub_dir = env.home.join(".cache/huggingface/hub");
    let hub = Hub::new(&hub_dir);
    let x = hub.repo("model", "o/X");
    x.snapshot(&commit("x"), &[lfs("model.safetensors", b"X weights")]);
    x.git_ref("main", &commit("x"));
    // A blob in X nothing in X reaches (an orphan by X's own view) that Y's main links to.
    let shared = x.path.join("blobs").join(fixtures::sha256_hex(b"shared"));
    fs::write(&shared, b"shared").unwrap();
    old(&shared);
    let y = hub.repo("model", "o/Y");
    y.snapshot(&commit("y"), &[lfs("model.safetensors", b"Y weights")]);
    y.git_ref("main", &commit("y"));
    let link = y.path.join("snapshots").join(commit("y")).join("extra.bin");
    symlink(
        format!(
            "../../../models--o--X/blobs/{}",
            fixtures::sha256_hex(b"shared")
        ),
        &link,
    )
    .unwrap();
    env.ok(&["prune", "--apply"]);
    assert_eq!(
        fs::read(&link).unwrap(),
        b"shared",
        "prune deleted a blob Y uses"
    );
    let out = env.run(&["models", "rm", "hf-hub:o/X", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert_eq!(
        fs::read(&link).unwrap(),
        b"shared",
        "rm deleted a blob Y uses"
    );
}

#[test]
fn a_store_locked_by_another_user_is_left_alone() {
    // Two users (two HOMEs) share one hub cache through HF_HOME.
    let alice = TestEnv::new();
    let shared = alice.tmp.path().join("shared-hf");
    let hub = Hub::new(&shared.join("hub"));
    let r = hub.repo("model", "org/m");
    let (old_rev, new_rev) = (commit("old"), commit("new"));
    r.snapshot(&old_rev, &[lfs("a.bin", b"old weights")]);
    r.snapshot(&new_rev, &[lfs("a.bin", b"new weights")]);
    r.git_ref("main", &new_rev);
    // Alice's modelenv holds the store's lock (as `flock` does, the same kind of lock).
    let lock = shared.join("hub/.locks/modelenv.lock");
    let mut holder = std::process::Command::new("flock")
        .args(["-x", "--no-fork", lock.to_str().unwrap(), "sleep", "30"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !lock.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let bob = TestEnv::new();
    let out = bob.run(&["--hf-home", shared.to_str().unwrap(), "prune", "--apply"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("another modelenv"),
        "{}",
        common::stderr(&out)
    );
    assert!(r.path.join("snapshots").join(&old_rev).exists());
    bob.ok(&["--hf-home", shared.to_str().unwrap(), "prune", "--apply"]);
    assert!(!r.path.join("snapshots").join(&old_rev).exists());
}

#[test]
fn another_unix_user_is_kept_out_of_a_store_this_user_is_changing() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || which::which("setpriv").is_err() {
        eprintln!("needs root and setpriv to run a second user; skipped");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let root_env = TestEnv::new();
    fs::set_permissions(root_env.tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let shared = root_env.tmp.path().join("shared-hf");
    let r = Hub::new(&shared.join("hub")).repo("model", "org/m");
    r.snapshot(&commit("old"), &[lfs("a.bin", b"old weights")]);
    r.snapshot(&commit("new"), &[lfs("a.bin", b"new weights")]);
    r.git_ref("main", &commit("new"));
    let hf = shared.to_str().unwrap();
    // The first changing run creates the store's lock file, for every user to lock.
    root_env.ok(&["--hf-home", hf, "prune", "--apply"]);
    let lock = shared.join("hub/.locks/modelenv.lock");
    assert!(fs::metadata(&lock).unwrap().permissions().mode() & 0o004 != 0);
    r.snapshot(&commit("older"), &[lfs("a.bin", b"older weights")]);
    let mut holder = std::process::Command::new("flock")
        .args(["-x", "--no-fork", lock.to_str().unwrap(), "sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // `nobody`, with a HOME of its own and a copy of the binary it may run.
    let home = root_env.tmp.path().join("nobody");
    fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    let program = root_env.tmp.path().join("modelenv");
    fs::copy(common::bin(), &program).unwrap();
    fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&program)
        .args(["--hf-home", hf, "prune", "--apply"])
        .env_clear()
        .env("HOME", &home)
        .env("PATH", common::sys_path())
        .current_dir(&home)
        .output()
        .unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("another modelenv"),
        "{}",
        common::stderr(&out)
    );
    assert!(r.path.join("snapshots").join(commit("older")).exists());
}

#[test]
fn a_shared_xet_payload_goes_with_its_refs_manifest_and_only_with_one() {
    let env = TestEnv::new();
    let cache = env.home.join(".cache/huggingface/hub");
    let hub = Hub::new(&cache);
    let r = hub.repo("model", "org/a");
    r.snapshot(&commit("a"), &[lfs("w.bin", b"weights")]);
    r.git_ref("main", &commit("a"));
    let store = cache.join("blobs");
    fs::create_dir_all(&store).unwrap();
    fs::write(store.join(".huggingface-shared-blobs"), "1\n").unwrap();
    let mut payloads = Vec::new();
    for (data, manifest) in [(&b"no longer used"[..], true), (&b"no manifest"[..], false)] {
        let xet = fixtures::sha256_hex(data);
        let dir = store.join(&xet[..2]);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(&xet), data).unwrap();
        old(&dir.join(&xet));
        if manifest {
            // It lists a repo blob that no longer exists: no valid reference is left.
            fs::write(
                dir.join(format!("{xet}.refs")),
                format!("models--org--gone/blobs/{xet}\n"),
            )
            .unwrap();
        }
        payloads.push(dir.join(&xet));
    }
    let out = env.ok(&["prune", "--apply"]);
    assert!(!payloads[0].exists(), "{}", common::stderr(&out));
    let manifest = payloads[0].with_file_name(format!(
        "{}.refs",
        payloads[0].file_name().unwrap().to_str().unwrap()
    ));
    assert!(!manifest.exists(), "the .refs manifest was left behind");
    assert!(
        payloads[1].exists(),
        "a payload without a manifest was deleted"
    );
    // huggingface_hub agrees: what is left is the one it would keep too.
    let py = std::process::Command::new(common::python())
        .args([
            "-c",
            "import sys\nfrom huggingface_hub.utils._shared_blobs import sweep_shared_blob\nprint(sweep_shared_blob(sys.argv[1], cache_dir=sys.argv[2]))",
            payloads[1].to_str().unwrap(),
            cache.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&py.stdout).trim(),
        "0",
        "{}",
        common::stderr(&py)
    );
    assert!(payloads[1].exists());
}

fn drive(env: &TestEnv) -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    tempfile::Builder::new()
        .prefix("modelenv-drive-")
        .tempdir_in(if shm.is_dir() { shm } else { env.tmp.path() })
        .unwrap()
}

#[test]
fn a_single_file_model_is_archived_and_restored_across_filesystems() {
    let env = TestEnv::new();
    let gguf = env.home.join("models/tiny.gguf");
    fs::create_dir_all(gguf.parent().unwrap()).unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    fs::write(&gguf, &data).unwrap();
    let d = drive(&env);
    env.ok(&[
        "models",
        "archive",
        "custom:tiny.gguf",
        "--to",
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(fs::read_link(&gguf).unwrap(), d.path().join("tiny.gguf"));
    assert_eq!(
        fs::read(&gguf).unwrap(),
        data,
        "not readable through the link"
    );
    env.ok(&["models", "restore", "custom:tiny.gguf"]);
    assert!(
        !fs::symlink_metadata(&gguf)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read(&gguf).unwrap(), data);
    assert!(!d.path().join("tiny.gguf").exists());
}

#[test]
fn restore_onto_a_model_downloaded_again_drops_only_an_identical_archive() {
    for identical in [true, false] {
        let env = TestEnv::new();
        let hub = Hub::new(&env.home.join(".cache/huggingface/hub"));
        let r = hub.repo("model", "org/m");
        r.snapshot(&commit("a"), &[lfs("w.bin", b"weights")]);
        r.git_ref("main", &commit("a"));
        let d = drive(&env);
        env.ok(&[
            "models",
            "archive",
            "hf-hub:org/m",
            "--to",
            d.path().to_str().unwrap(),
        ]);
        let archive = d.path().join("models--org--m");
        // The model is downloaded again into the store, beside the archive record.
        fs::remove_file(&r.path).unwrap();
        let again = hub.repo("model", "org/m");
        let data: &[u8] = if identical { b"weights" } else { b"WEIGHTS" };
        again.snapshot(&commit("a"), &[lfs("w.bin", data)]);
        again.git_ref("main", &commit("a"));
        let out = env.run(&["models", "restore", "hf-hub:org/m"]);
        if identical {
            assert!(out.status.success(), "{}", common::stderr(&out));
            assert!(!archive.exists(), "the identical archive was kept");
        } else {
            assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
            assert!(
                common::stderr(&out).contains("differs"),
                "{}",
                common::stderr(&out)
            );
            assert!(
                archive.join("blobs").exists(),
                "a different archive was deleted"
            );
        }
        let snap = again.path.join("snapshots").join(commit("a")).join("w.bin");
        assert_eq!(fs::read(snap).unwrap(), data);
    }
}

#[test]
fn records_another_user_could_have_written_are_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("needs root to give a file to another user; skipped");
        return;
    }
    // A state folder owned by `nobody` (root running with a user's HOME, or a HOME in /tmp):
    // its journal could name any file, so nothing in it is trusted.
    let env = TestEnv::new();
    let state = env.home.join(".local/state/modelenv");
    fs::create_dir_all(state.join("journal")).unwrap();
    fs::write(state.join("journal/prune.json"), "{}").unwrap();
    for p in [
        state.clone(),
        state.join("journal"),
        state.join("journal/prune.json"),
    ] {
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
    }
    for args in [&["prune", "--apply"][..], &["uninstall"][..]] {
        let out = env.run(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains("not to you"),
            "{args:?}: {}",
            common::stderr(&out)
        );
    }
    assert!(state.join("journal/prune.json").exists());
}

#[test]
fn dedupe_leaves_copies_with_other_links_or_other_permissions() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let env = TestEnv::new();
    let gguf = vec![3u8; 50_000];
    let o = fixtures::Ollama::new(&env.home.join(".ollama/models"));
    o.library("q", "latest", b"{}", &[(fixtures::MODEL, &gguf)]);
    let private = env.home.join("models/private.gguf");
    fs::create_dir_all(private.parent().unwrap()).unwrap();
    fs::write(&private, &gguf).unwrap();
    fs::set_permissions(&private, fs::Permissions::from_mode(0o600)).unwrap();
    let linked = env.home.join(".lmstudio/models/x/x-GGUF/x.gguf");
    fs::create_dir_all(linked.parent().unwrap()).unwrap();
    fs::write(&linked, &gguf).unwrap();
    fs::hard_link(&linked, env.home.join("backup.gguf")).unwrap();
    let out = env.ok(&["dedupe", "--apply", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["freed_bytes"], 0, "{v:#}");
    assert_eq!(
        fs::metadata(&private).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(fs::metadata(&private).unwrap().nlink(), 1);
    assert_eq!(fs::metadata(&linked).unwrap().nlink(), 2);
}

#[test]
fn a_blob_restored_with_an_old_mtime_counts_as_new() {
    // rsync -a / tar x: content arrives with its old mtime but a new ctime, blobs before the
    // snapshot links that will name them. The grace must protect them.
    let env = TestEnv::new();
    let r = Hub::new(&env.home.join(".cache/huggingface/hub")).repo("model", "org/m");
    r.snapshot(&commit("a"), &[lfs("w.bin", b"weights")]);
    r.git_ref("main", &commit("a"));
    let arriving = r.path.join("blobs").join(fixtures::sha256_hex(b"restored"));
    fs::write(&arriving, b"restored").unwrap();
    old(&arriving);
    let out = env
        .cmd(&["prune", "--apply"])
        .env_remove("MODELENV_TEST_MTIME_AGE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(arriving.exists(), "a blob being restored was deleted");
    assert!(
        common::stderr(&out).contains("less than an hour"),
        "{}",
        common::stderr(&out)
    );
}

#[test]
fn rm_of_an_alias_removes_the_link_not_the_model() {
    let env = TestEnv::new();
    let hub_dir = env.home.join(".cache/huggingface/hub");
    let real = Hub::new(&hub_dir).repo("model", "neworg/x");
    real.snapshot(&commit("x"), &[lfs("w.bin", b"the real model")]);
    real.git_ref("main", &commit("x"));
    symlink("models--neworg--x", hub_dir.join("models--oldorg--x")).unwrap();
    let out = env.run(&["models", "rm", "hf-hub:oldorg/x", "--yes"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(fs::symlink_metadata(hub_dir.join("models--oldorg--x")).is_err());
    let w = real.path.join("snapshots").join(commit("x")).join("w.bin");
    assert_eq!(fs::read(w).unwrap(), b"the real model");
}

#[test]
fn dedupe_never_links_a_file_outside_the_stores_a_snapshot_points_to() {
    let env = TestEnv::new();
    let gguf = vec![9u8; 60_000];
    let o = fixtures::Ollama::new(&env.home.join(".ollama/models"));
    o.library("q", "latest", b"{}", &[(fixtures::MODEL, &gguf)]);
    let outside = env.home.join("work/my.gguf");
    fs::create_dir_all(outside.parent().unwrap()).unwrap();
    fs::write(&outside, &gguf).unwrap();
    let r = Hub::new(&env.home.join(".cache/huggingface/hub")).repo("model", "org/m");
    let snap = r.path.join("snapshots").join(commit("a"));
    fs::create_dir_all(&snap).unwrap();
    symlink(&outside, snap.join("model.gguf")).unwrap();
    r.git_ref("main", &commit("a"));
    env.ok(&["dedupe", "--apply"]);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(&outside).unwrap().nlink(),
        1,
        "a user file was linked"
    );
}

#[test]
fn rm_with_a_broken_archive_record_changes_nothing() {
    let env = TestEnv::new();
    let r = Hub::new(&env.home.join(".cache/huggingface/hub")).repo("model", "org/m");
    r.snapshot(&commit("a"), &[lfs("w.bin", b"weights")]);
    r.git_ref("main", &commit("a"));
    let state = env.home.join(".local/state/modelenv");
    fs::create_dir_all(&state).unwrap();
    fs::write(state.join("archives.json"), "{ not json").unwrap();
    let out = env.run(&["models", "rm", "hf-hub:org/m", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        r.path
            .join("snapshots")
            .join(commit("a"))
            .join("w.bin")
            .exists()
    );
}

#[test]
fn an_unfinished_download_is_listed_in_a_repo_that_also_has_a_dangling_link() {
    let env = TestEnv::new();
    let r = Hub::new(&env.home.join(".cache/huggingface/hub")).repo("model", "org/m");
    r.snapshot(&commit("a"), &[lfs("w.bin", b"weights")]);
    r.git_ref("main", &commit("a"));
    symlink(
        "../../blobs/0000000000000000000000000000000000000000000000000000000000000000",
        r.path.join("snapshots").join(commit("a")).join("gone.bin"),
    )
    .unwrap();
    let part = r.incomplete(b"half a file");
    old(&part);
    let v: serde_json::Value =
        serde_json::from_slice(&env.ok(&["prune", "--json"]).stdout).unwrap();
    let paths: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&part.to_str().unwrap()), "{v:#}");
}

#[test]
fn install_waits_its_turn_while_a_store_is_being_changed() {
    // install may finish an interrupted prune or migrate, so it takes the stores' locks too.
    let env = TestEnv::new();
    let hub = Hub::new(&env.home.join(".cache/huggingface/hub"));
    hub.repo("model", "org/m");
    let lock = env.home.join(".cache/huggingface/hub/.locks/modelenv.lock");
    fs::write(&lock, "").unwrap();
    let mut holder = std::process::Command::new("flock")
        .args(["-x", "--no-fork", lock.to_str().unwrap(), "sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    fs::write(env.home.join(".bashrc"), "# mine\n").unwrap();
    let out = env.run(&["install", "--shell", "bash", "--no-doctor"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("another modelenv"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(
        fs::read_to_string(env.home.join(".bashrc")).unwrap(),
        "# mine\n"
    );
}
