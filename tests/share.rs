//! One store for every user of a machine: real Unix users and a group (`useradd`,
//! `groupadd`), each running the real huggingface_hub (its `WeakFileLock` and a blob written
//! the way a download writes it) with umask 022, before and after `modelenv share init`.
// Tests build the situations they check on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::TestEnv;
use serde_json::Value;

/// A download as huggingface_hub does it: its lock under `.locks`, the blob written under a
/// temporary name and renamed, the snapshot link, the ref.
const DOWNLOAD: &str = r#"
import hashlib, os, sys
from huggingface_hub.utils._fixes import WeakFileLock
hub, repo, name, data = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].encode()
etag = hashlib.sha256(data).hexdigest()
folder = os.path.join(hub, "models--" + repo.replace("/", "--"))
lock = os.path.join(hub, ".locks", os.path.basename(folder), etag + ".lock")
os.makedirs(os.path.dirname(lock), exist_ok=True)
with WeakFileLock(lock):
    blobs = os.path.join(folder, "blobs")
    os.makedirs(blobs, exist_ok=True)
    with open(os.path.join(blobs, etag + ".incomplete"), "wb") as f:
        f.write(data)
    os.replace(os.path.join(blobs, etag + ".incomplete"), os.path.join(blobs, etag))
    commit = "0" * 40
    snap = os.path.join(folder, "snapshots", commit)
    os.makedirs(snap, exist_ok=True)
    os.symlink("../../blobs/" + etag, os.path.join(snap, name))
    os.makedirs(os.path.join(folder, "refs"), exist_ok=True)
    with open(os.path.join(folder, "refs", "main"), "w") as f:
        f.write(commit)
"#;

const LOAD: &str = r#"
import sys
from huggingface_hub import try_to_load_from_cache
p = try_to_load_from_cache(sys.argv[2], sys.argv[3], cache_dir=sys.argv[1])
sys.stdout.write(open(p).read())
"#;

/// A group and three users in it (each with their own primary group), removed on drop.
struct Users {
    group: String,
    names: Vec<String>,
}

impl Users {
    fn create() -> Option<Users> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tag = format!("{:x}{n}", std::process::id() % 0xffff);
        let group = format!("mdlshare{tag}");
        let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
        if !ok(Command::new("groupadd").arg(&group)) {
            return None;
        }
        let mut users = Users {
            group: group.clone(),
            names: Vec::new(),
        };
        for who in ["a", "b", "c"] {
            let name = format!("mdl{who}{tag}");
            if !ok(Command::new("useradd").args(["-M", "-U", "-s", "/bin/sh", "-G", &group, &name]))
            {
                return None;
            }
            users.names.push(name);
        }
        Some(users)
    }

    /// Runs the system Python as user `i` with umask 022.
    fn python(&self, i: usize, py: &Path, script: &str, args: &[&str]) -> Output {
        let name = &self.names[i];
        Command::new("setpriv")
            .args([
                "--reuid",
                name,
                "--regid",
                name,
                "--init-groups",
                "sh",
                "-c",
            ])
            .arg("umask 022; exec \"$0\" -c \"$@\"")
            .arg(py)
            .arg(script)
            .args(args)
            .env_clear()
            .env("PATH", common::sys_path())
            .env("HOME", "/nonexistent")
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .unwrap()
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("userdel").arg(n).status();
        }
        let _ = Command::new("groupdel").arg(&self.group).status();
    }
}

/// The Python every user can run (not one under root's home): scripts/test.sh builds it from
/// the system interpreter and names it in MODELENV_TEST_SYSTEM_PYTHON.
fn system_python() -> Option<PathBuf> {
    std::env::var_os("MODELENV_TEST_SYSTEM_PYTHON").map(PathBuf::from)
}

fn setup() -> Option<(TestEnv, Users, PathBuf, PathBuf)> {
    if unsafe_geteuid() != 0 {
        eprintln!("skipped: needs root to create users and groups");
        return None;
    }
    let Some(py) = system_python() else {
        eprintln!("skipped: MODELENV_TEST_SYSTEM_PYTHON is not set (scripts/test.sh sets it)");
        return None;
    };
    let users = Users::create().expect("useradd and groupadd work as root");
    let env = TestEnv::new();
    // Every user can reach the store; the store itself is world-writable, as an admin who
    // "just made it 777" leaves it.
    std::fs::set_permissions(env.tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = env.tmp.path().join("shared-hf");
    std::fs::create_dir(&store).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o777)).unwrap();
    Some((env, users, py, store))
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: a plain syscall without arguments.
    unsafe { libc::geteuid() }
}

fn ok(out: &Output) -> bool {
    out.status.success()
}

#[test]
fn share_init_lets_every_member_lock_and_add_blobs_whatever_their_umask() {
    let Some((env, users, py, store)) = setup() else {
        return;
    };
    let hub = store.join("hub");
    let hub_s = hub.to_str().unwrap();
    let download = |who: usize, repo: &str, file: &str| {
        users.python(
            who,
            &py,
            DOWNLOAD,
            &[hub_s, repo, file, &format!("{repo}/{file} by {who}")],
        )
    };

    // The problem, reproduced: B cannot lock or add a blob in the repo A's download created.
    let a = download(0, "o/m", "a.safetensors");
    assert!(ok(&a), "{}", common::stderr(&a));
    let b = download(1, "o/m", "b.safetensors");
    assert!(
        !ok(&b),
        "B could write without share init: the test proves nothing"
    );
    assert!(
        common::stderr(&b).contains("PermissionError"),
        "{}",
        common::stderr(&b)
    );

    // The dry run changes nothing and lists the work.
    let before = env.snapshot();
    let dry = env.ok(&[
        "share",
        "init",
        store.to_str().unwrap(),
        "--group",
        &users.group,
        "--json",
    ]);
    let dry: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert!(dry["changes"].as_u64().unwrap() > 0, "{dry}");
    assert_eq!(dry["applied"], false);
    assert!(env.user_changes(&before).is_empty());

    let out = env.ok(&[
        "share",
        "init",
        store.to_str().unwrap(),
        "--group",
        &users.group,
        "--apply",
        "--json",
    ]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["failed"].is_null(), "{report}");
    let acl = report["acl"] == true;

    // B and a third user now lock and add blobs to A's repo; each loads the others' files.
    for (who, file) in [(1, "b.safetensors"), (2, "c.safetensors")] {
        let out = download(who, "o/m", file);
        assert!(ok(&out), "user {who}: {}", common::stderr(&out));
    }
    for (who, file, by) in [(1, "a.safetensors", 0), (0, "c.safetensors", 2)] {
        let out = users.python(who, &py, LOAD, &[hub_s, "o/m", file]);
        assert!(ok(&out), "{}", common::stderr(&out));
        assert_eq!(common::stdout(&out), format!("o/m/{file} by {by}"));
    }

    // What A creates after share init (new folders, under umask 022) stays shared: the
    // default ACL, where the filesystem has them, overrides the umask.
    if acl {
        let out = download(0, "o/new", "a.safetensors");
        assert!(ok(&out), "{}", common::stderr(&out));
        let out = download(1, "o/new", "b.safetensors");
        assert!(
            ok(&out),
            "B in a repo A created after share init: {}",
            common::stderr(&out)
        );
    } else {
        eprintln!("this filesystem keeps no ACLs: new folders follow each user's umask");
        assert!(common::stderr(&out).contains("umask 002"));
    }

    // Idempotent: a second run has nothing to do.
    let again = env.ok(&[
        "share",
        "init",
        store.to_str().unwrap(),
        "--group",
        &users.group,
        "--json",
    ]);
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["changes"], 0, "{again}");
}

#[test]
fn share_init_refuses_what_it_cannot_do_changing_nothing() {
    let Some((env, users, _py, store)) = setup() else {
        return;
    };
    let before = env.snapshot();
    for (args, why) in [
        (vec!["--group", "no-such-group-here"], "no group named"),
        (vec!["--group", users.group.as_str()], ""),
    ] {
        let target = if why.is_empty() {
            env.tmp.path().join("missing-parent/store")
        } else {
            store.clone()
        };
        let mut a = vec!["share", "init", target.to_str().unwrap(), "--apply"];
        a.extend(args);
        let out = env.run(&a);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{a:?}: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains(why),
            "{}",
            common::stderr(&out)
        );
    }
    assert!(env.user_changes(&before).is_empty());
    // A user outside the group cannot give files to it.
    let out = Command::new("setpriv")
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .arg(common::bin())
        .args([
            "share",
            "init",
            store.to_str().unwrap(),
            "--group",
            &users.group,
            "--apply",
        ])
        .env_clear()
        .env("HOME", env.tmp.path())
        .env("PATH", common::sys_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("not a member"),
        "{}",
        common::stderr(&out)
    );
}

/// The modelenv binary, copied where every user can run it, run as user `i` with its own HOME.
fn modelenv_as(env: &TestEnv, users: &Users, i: usize, args: &[&str]) -> Output {
    let bin = env.tmp.path().join("modelenv");
    if !bin.exists() {
        std::fs::copy(common::bin(), &bin).unwrap();
    }
    let home = env.tmp.path().join(format!("home-{i}"));
    if !home.exists() {
        std::fs::create_dir(&home).unwrap();
        let ok = Command::new("chown")
            .args([&users.names[i], home.to_str().unwrap()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
    Command::new("setpriv")
        .args([
            "--reuid",
            &users.names[i],
            "--regid",
            &users.names[i],
            "--init-groups",
        ])
        .arg(&bin)
        .args(args)
        .env_clear()
        .env("HOME", &home)
        .env("PATH", common::sys_path())
        .env("MODELENV_TEST_MTIME_AGE", "1")
        .output()
        .unwrap()
}

#[test]
fn a_user_without_rights_on_the_shared_store_is_refused_before_any_change() {
    let Some((env, users, py, store)) = setup() else {
        return;
    };
    let hub = store.join("hub");
    let hub_s = hub.to_str().unwrap();
    let out = users.python(
        0,
        &py,
        DOWNLOAD,
        &[hub_s, "o/m", "w.safetensors", "weights"],
    );
    assert!(ok(&out), "{}", common::stderr(&out));
    // An abandoned download of A's, old enough for prune to take.
    let part = hub
        .join("models--o--m/blobs")
        .join(format!("{}.incomplete", "e".repeat(64)));
    let out = users.python(
        0,
        &py,
        "import sys; open(sys.argv[1], 'wb').write(b'half')",
        &[part.to_str().unwrap()],
    );
    assert!(ok(&out), "{}", common::stderr(&out));
    let t = filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - 7200, 0);
    filetime::set_file_times(&part, t, t).unwrap();

    let before = env.snapshot();
    let out = modelenv_as(
        &env,
        &users,
        1,
        &["prune", "--apply", "--hf-home", store.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("cannot change"),
        "{}",
        common::stderr(&out)
    );
    assert!(part.exists());
    let changed: Vec<_> = common::changed(
        &common::user_files(&before),
        &common::user_files(&env.snapshot()),
    )
    .into_iter()
    // B's own home (modelenv's state) and the copy of the binary are not the store.
    .filter(|p| !p.starts_with("home-1") && p != Path::new("modelenv"))
    .collect();
    assert!(changed.is_empty(), "{changed:?}");

    // Shared with the group, the same prune by B frees A's abandoned download.
    env.ok(&[
        "share",
        "init",
        store.to_str().unwrap(),
        "--group",
        &users.group,
        "--apply",
    ]);
    let out = modelenv_as(
        &env,
        &users,
        1,
        &["prune", "--apply", "--hf-home", store.to_str().unwrap()],
    );
    assert!(ok(&out), "{}", common::stderr(&out));
    assert!(!part.exists());
}

/// The `shared.*` checks of a doctor run as user `i`: (id, status, message).
fn shared_checks(
    env: &TestEnv,
    users: &Users,
    i: usize,
    store: &Path,
) -> Vec<(String, String, String)> {
    let out = modelenv_as(
        env,
        users,
        i,
        &[
            "doctor",
            "--json",
            "--no-probe",
            "--hf-home",
            store.to_str().unwrap(),
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", common::stderr(&out)));
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("shared."))
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_doctor_run_as_another_user_names_each_permission_problem_until_share_init() {
    let Some((env, users, py, store)) = setup() else {
        return;
    };
    let hub = store.join("hub");
    let out = users.python(
        0,
        &py,
        DOWNLOAD,
        &[hub.to_str().unwrap(), "o/m", "w.safetensors", "w"],
    );
    assert!(ok(&out), "{}", common::stderr(&out));
    // A 0644 lock file of A's, as older huggingface_hub versions leave them.
    let lock = hub.join(".locks/models--o--m/old.lock");
    let out = users.python(
        0,
        &py,
        "import os, sys; os.close(os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o644))",
        &[lock.to_str().unwrap()],
    );
    assert!(ok(&out), "{}", common::stderr(&out));

    let before = shared_checks(&env, &users, 1, &store);
    let has = |checks: &[(String, String, String)], id: &str, status: &str, text: &str| {
        checks
            .iter()
            .any(|(i, s, m)| i == id && s == status && m.contains(text))
    };
    assert!(
        has(&before, "shared.access", "fail", &users.names[0]),
        "{before:#?}"
    );
    assert!(
        has(&before, "shared.permissions", "warn", "old.lock"),
        "{before:#?}"
    );
    assert!(
        has(&before, "shared.setgid", "warn", "setgid"),
        "{before:#?}"
    );

    env.ok(&[
        "share",
        "init",
        store.to_str().unwrap(),
        "--group",
        &users.group,
        "--apply",
    ]);
    let after = shared_checks(&env, &users, 1, &store);
    let bad: Vec<_> = after.iter().filter(|(_, s, _)| s != "pass").collect();
    assert!(bad.is_empty(), "{after:#?}");
    assert!(
        has(&after, "shared.access", "pass", "can take locks"),
        "{after:#?}"
    );
}
