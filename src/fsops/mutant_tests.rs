//! Tests that kill the mutants `cargo mutants --file 'src/fsops/*.rs' -- --lib` left alive:
//! each one builds the situation on a real disk and fails when the behaviour it names breaks.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use super::guard::Failure;
use super::tests::{run, setup, sha, status};
use super::write::remove_file;
use super::*;

fn git_sha1(s: &[u8]) -> String {
    hash::git_sha1_reader(s, s.len() as u64).unwrap()
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn chmod(p: &Path, m: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

fn open_dir(p: &Path) -> OwnedFd {
    rustix::fs::open(
        p,
        rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .unwrap()
}

// --- Outcome, groups and the journal ---------------------------------------------------------

#[test]
fn outcome_summaries_follow_each_operations_status() {
    let (dir, root) = setup();
    for n in ["a", "b", "c"] {
        fs::write(dir.path().join(n), n).unwrap();
    }
    let mut first = Plan::new();
    first.remove(&root, &dir.path().join("a")).unwrap();
    let mut second = Plan::new();
    second.remove(&root, &dir.path().join("b")).unwrap();
    second.remove(&root, &dir.path().join("c")).unwrap();
    let mut plan = Plan::new();
    let ga = plan.push_group(first);
    let gb = plan.push_group(second);
    assert_eq!(plan.len(), 3);
    fs::write(dir.path().join("b"), "grown since the plan").unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Done, Status::Refused, Status::Skipped]);
    assert!(!o.complete());
    assert!(o.group_ok(ga));
    assert!(!o.group_ok(gb));
    let problems = o.problems();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[1].contains("did not happen"), "{problems:?}");

    let mut plan = Plan::new();
    plan.remove(&root, &dir.path().join("c")).unwrap();
    let o = run(dir.path(), &plan);
    assert!(o.complete());
    assert!(o.problems().is_empty());
}

#[test]
fn a_done_note_in_the_journal_is_read_back() {
    let (dir, root) = setup();
    let state = dir.path().join(".state");
    for n in ["a", "b"] {
        fs::write(dir.path().join(n), n).unwrap();
    }
    let mut plan = Plan::new();
    plan.remove(&root, &dir.path().join("a")).unwrap();
    plan.remove(&root, &dir.path().join("b")).unwrap();
    let mut j = journal::Journal::begin(&state, "prune", &plan).unwrap();
    j.done(1);
    drop(j);
    let found = interrupted(&state).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].2, HashSet::from([1]));
    // The note is trusted: operation 1 is not tried again.
    let resumed = Run::new(&state, "resume", None).resume().unwrap();
    assert_eq!(status(&resumed[0].1), [Status::Done, Status::AlreadyDone]);
    assert!(dir.path().join("b").exists());
}

#[test]
fn a_journaled_write_keeps_its_exact_bytes() {
    let (dir, root) = setup();
    let state = dir.path().join(".state");
    let f = dir.path().join("conf");
    let bytes = b"line\n\x00\x01\xff tail";
    let mut plan = Plan::new();
    plan.write(&root, &f, bytes).unwrap();
    drop(journal::Journal::begin(&state, "install", &plan).unwrap());
    let resumed = Run::new(&state, "resume", None).resume().unwrap();
    assert_eq!(status(&resumed[0].1), [Status::Done]);
    assert_eq!(fs::read(&f).unwrap(), bytes);
}

#[test]
fn a_store_lock_keeps_out_a_modelenv_with_another_state_folder() {
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub");
    let ollama = dir.path().join("ollama");
    fs::create_dir_all(&hub).unwrap();
    fs::create_dir_all(&ollama).unwrap();
    let stores = [(hub.clone(), true), (ollama.clone(), false)];
    let first = StoreLock::acquire(&dir.path().join("state-a"), "prune")
        .unwrap()
        .with_stores(&stores, "prune")
        .unwrap();
    assert_eq!(
        StoreLock::store(&hub, true),
        hub.join(".locks/modelenv.lock")
    );
    assert_eq!(
        StoreLock::store(&ollama, false),
        ollama.join(".modelenv.lock")
    );
    assert!(hub.join(".locks/modelenv.lock").is_file());
    assert!(ollama.join(".modelenv.lock").is_file());
    drop(first);
    // Another user's modelenv (another process) has its own state folder: each store's
    // lock alone keeps this one out.
    for s in &stores {
        let mut other = super::tests::other_process_holds(&StoreLock::store(&s.0, s.1));
        let err = StoreLock::acquire(&dir.path().join("state-b"), "migrate")
            .unwrap()
            .with_stores(std::slice::from_ref(s), "migrate")
            .err()
            .unwrap();
        assert!(err.to_string().contains("another modelenv"), "{err}");
        other.kill().unwrap();
        other.wait().unwrap();
    }
    StoreLock::acquire(&dir.path().join("state-b"), "migrate")
        .unwrap()
        .with_stores(&stores, "migrate")
        .unwrap();
}

#[test]
fn a_truncated_plan_does_only_what_is_left() {
    let (dir, root) = setup();
    for n in ["a", "b", "c"] {
        fs::write(dir.path().join(n), n).unwrap();
    }
    let mut plan = Plan::new();
    for n in ["a", "b", "c"] {
        plan.remove(&root, &dir.path().join(n)).unwrap();
    }
    plan.truncate(1);
    assert_eq!(plan.len(), 1);
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert!(!dir.path().join("a").exists());
    assert!(dir.path().join("b").exists() && dir.path().join("c").exists());
}

/// The kill hook, run in a child process (the test binary again) because it ends with SIGKILL.
const KILL_CHILD: &str = "MODELENV_FSOPS_KILL_CHILD";

#[test]
fn kill_hook_child() {
    let Ok(dir) = std::env::var(KILL_CHILD) else {
        return; // only meaningful as the child of the test below
    };
    let dir = PathBuf::from(dir);
    let root = Root::open(&dir).unwrap();
    let mut plan = Plan::new();
    for n in ["x", "a", "b", "c"] {
        plan.remove(&root, &dir.join(n)).unwrap();
    }
    // Gone before the run: found done, which is not a change and does not count.
    fs::remove_file(dir.join("x")).unwrap();
    Run::new(&dir.join(".state"), "kill", Some(2))
        .execute(&plan)
        .unwrap();
}

#[test]
fn the_kill_hook_counts_only_changes_and_stops_after_that_many() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    for n in ["x", "a", "b", "c"] {
        fs::write(dir.path().join(n), n).unwrap();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fsops::mutant_tests::kill_hook_child",
            "--test-threads=1",
        ])
        .env(KILL_CHILD, dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let left: Vec<bool> = ["x", "a", "b", "c"]
        .iter()
        .map(|n| dir.path().join(n).exists())
        .collect();
    assert_eq!(left, [false, false, false, true]);
    // The journal the killed run left finishes the work.
    let resumed = Run::new(&dir.path().join(".state"), "resume", None)
        .resume()
        .unwrap();
    assert!(resumed[0].1.complete());
    assert!(!dir.path().join("c").exists());
}

// --- Each action's finished state and refusals ------------------------------------------------

#[test]
fn a_stale_temporary_of_any_kind_does_not_stop_a_link() {
    let (dir, root) = setup();
    let keep = dir.path().join("keep");
    fs::write(&keep, "data").unwrap();
    for (name, stale) in [("file", 0), ("folder", 1), ("fifo", 2)] {
        let copy = dir.path().join(name);
        fs::write(&copy, "data").unwrap();
        let tmp = dir.path().join(format!("{name}.modelenv-link"));
        match stale {
            0 => fs::write(&tmp, "half").unwrap(),
            1 => {
                fs::create_dir_all(tmp.join("sub")).unwrap();
                fs::write(tmp.join("sub/f"), "x").unwrap();
            }
            _ => mkfifo(&tmp),
        }
        let mut plan = Plan::new();
        plan.link(&root, &keep, &root, &copy, LinkKind::Hard, &sha(b"data"))
            .unwrap();
        let o = run(dir.path(), &plan);
        assert_eq!(status(&o), [Status::Done], "{name}: {:?}", o.problems());
        assert_eq!(
            fs::metadata(&keep).unwrap().ino(),
            fs::metadata(&copy).unwrap().ino()
        );
        assert!(fs::symlink_metadata(&tmp).is_err(), "{name}");
    }
}

#[test]
fn symlink_is_made_found_done_and_never_replaces_another() {
    let (dir, root) = setup();
    let at = dir.path().join("snapshots/c/w");
    let mut plan = Plan::new();
    plan.symlink(&root, &at, Path::new("../../blobs/b1"))
        .unwrap();
    assert_eq!(plan.views()[0].op, "symlink");
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert_eq!(fs::read_link(&at).unwrap(), Path::new("../../blobs/b1"));
    assert_eq!(status(&run(dir.path(), &plan)), [Status::AlreadyDone]);

    // Another link, or a file, appeared at the name: refused, left as it is.
    let other = dir.path().join("other");
    let mut plan = Plan::new();
    plan.symlink(&root, &other, Path::new("mine")).unwrap();
    symlink("theirs", &other).unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert_eq!(fs::read_link(&other).unwrap(), Path::new("theirs"));
    let file = dir.path().join("file");
    let mut plan = Plan::new();
    plan.symlink(&root, &file, Path::new("mine")).unwrap();
    fs::write(&file, "theirs").unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert_eq!(fs::read_to_string(&file).unwrap(), "theirs");
}

#[test]
fn symlink_later_and_move_later_take_names_an_earlier_step_frees_or_fills() {
    let (dir, root) = setup();
    let model = dir.path().join("model");
    let staged = dir.path().join("model.modelenv-restore");
    fs::write(&model, "link stand-in").unwrap();
    let mut plan = Plan::new();
    // Planned while the names are taken (model) or empty (staged).
    plan.symlink_later(&root, &model, Path::new("elsewhere"))
        .unwrap();
    plan.move_later(&root, &staged, &root, &dir.path().join("moved"))
        .unwrap();
    assert_eq!(plan.len(), 2);
    fs::remove_file(&model).unwrap();
    fs::write(&staged, "restored").unwrap();
    assert_eq!(
        status(&run(dir.path(), &plan)),
        [Status::Done, Status::Done]
    );
    assert_eq!(fs::read_link(&model).unwrap(), Path::new("elsewhere"));
    assert_eq!(
        fs::read_to_string(dir.path().join("moved")).unwrap(),
        "restored"
    );
}

#[test]
fn remove_empty_dir_removes_only_an_empty_folder() {
    let (dir, root) = setup();
    let empty = dir.path().join("manifests/lib/empty");
    let full = dir.path().join("manifests/lib/full");
    fs::create_dir_all(&empty).unwrap();
    fs::create_dir_all(&full).unwrap();
    fs::write(full.join("latest"), "m").unwrap();
    let mut plan = Plan::new();
    plan.remove_empty_dir(&root, &empty).unwrap();
    plan.remove_empty_dir(&root, &full).unwrap();
    assert_eq!(plan.views()[0].op, "remove_empty_dir");
    assert_eq!(
        status(&run(dir.path(), &plan)),
        [Status::Done, Status::Kept]
    );
    assert!(!empty.exists());
    assert!(full.join("latest").exists());
    assert_eq!(
        status(&run(dir.path(), &plan)),
        [Status::AlreadyDone, Status::Kept]
    );
}

#[test]
fn check_passes_the_right_content_and_refuses_the_rest() {
    let (dir, root) = setup();
    let f = dir.path().join("blob");
    fs::write(&f, "weights").unwrap();
    let folder = dir.path().join("folder");
    fs::create_dir(&folder).unwrap();
    let mut plan = Plan::new();
    plan.check(&root, &f, Verify::Sha256(sha(b"weights")))
        .unwrap();
    assert_eq!(plan.views()[0].op, "check");
    assert_eq!(status(&run(dir.path(), &plan)), [Status::AlreadyDone]);
    let mut plan = Plan::new();
    plan.check(&root, &f, Verify::Sha256(sha(b"other")))
        .unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    let mut plan = Plan::new();
    plan.check(&root, &folder, Verify::Source).unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused]);
    assert!(
        o.problems()[0].contains("not a regular file"),
        "{:?}",
        o.problems()
    );
}

#[test]
fn write_creates_replaces_keeps_the_mode_and_is_found_done() {
    let (dir, root) = setup();
    // A new file, below folders that do not exist yet.
    let new = dir.path().join("a/b/new");
    let mut plan = Plan::new();
    plan.write(&root, &new, b"fresh").unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert_eq!(fs::read_to_string(&new).unwrap(), "fresh");
    assert_eq!(mode(&new), 0o644);
    assert_eq!(status(&run(dir.path(), &plan)), [Status::AlreadyDone]);

    // An existing file: new bytes, its own mode kept.
    let rc = dir.path().join(".bashrc");
    fs::write(&rc, "old\n").unwrap();
    chmod(&rc, 0o600);
    let mut plan = Plan::new();
    plan.write(&root, &rc, b"old\nnew\n").unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert_eq!(fs::read_to_string(&rc).unwrap(), "old\nnew\n");
    assert_eq!(mode(&rc), 0o600);
    assert_eq!(status(&run(dir.path(), &plan)), [Status::AlreadyDone]);

    // A file the plan saw that is gone now is not written again.
    let gone = dir.path().join("gone");
    fs::write(&gone, "x").unwrap();
    let mut plan = Plan::new();
    plan.write(&root, &gone, b"y").unwrap();
    fs::remove_file(&gone).unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert!(!gone.exists());
}

#[test]
fn create_dir_makes_missing_parents_and_refuses_a_file() {
    let (dir, root) = setup();
    let d = dir.path().join("hub/models--a/blobs");
    let mut plan = Plan::new();
    plan.create_dir(&root, &d).unwrap();
    assert_eq!(plan.views()[0].op, "create_dir");
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert!(d.is_dir());
    assert_eq!(status(&run(dir.path(), &plan)), [Status::AlreadyDone]);
    let f = dir.path().join("taken");
    let mut plan = Plan::new();
    plan.create_dir(&root, &f).unwrap();
    fs::write(&f, "a file").unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert!(f.is_file());
}

#[test]
fn move_with_a_matching_name_is_done_and_rechecked_on_a_rerun() {
    let (dir, root) = setup();
    for (name, data) in [
        (sha(b"lfs weights"), &b"lfs weights"[..]),
        (git_sha1(b"{}"), b"{}"),
    ] {
        let from = dir.path().join("local").join(&name);
        fs::create_dir_all(from.parent().unwrap()).unwrap();
        fs::write(&from, data).unwrap();
        let to = dir.path().join("central/blobs").join(&name);
        let mut plan = Plan::new();
        plan.move_to(&root, &from, &root, &to, Verify::Name(name.clone()))
            .unwrap();
        assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
        assert!(!from.exists());
        assert_eq!(fs::read(&to).unwrap(), data);
        assert_eq!(status(&run(dir.path(), &plan)), [Status::AlreadyDone]);
        // What sits at the destination on a rerun must still be what the name promises.
        fs::write(&to, "rot").unwrap();
        assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    }
}

#[test]
fn a_copy_across_filesystems_refuses_a_git_blob_whose_content_is_not_its_name() {
    // On one filesystem a move is a rename and reads nothing; across, the name is checked.
    let (dir, root) = setup();
    let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
        return;
    };
    let oroot = Root::open(other.path()).unwrap();
    if oroot.dev() == root.dev() {
        return;
    }
    let name = git_sha1(b"config");
    let from = dir.path().join("local").join(&name);
    fs::create_dir_all(from.parent().unwrap()).unwrap();
    fs::write(&from, "bit rot").unwrap();
    let to = other.path().join("central").join(&name);
    let mut plan = Plan::new();
    plan.move_to(&root, &from, &oroot, &to, Verify::Name(name.clone()))
        .unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert!(from.exists() && !to.exists());
}

#[test]
fn move_of_a_source_that_vanished_is_refused() {
    let (dir, root) = setup();
    let from = dir.path().join("a");
    fs::write(&from, "x").unwrap();
    let mut plan = Plan::new();
    plan.move_to(&root, &from, &root, &dir.path().join("b"), Verify::Source)
        .unwrap();
    fs::remove_file(&from).unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused]);
    assert!(o.problems()[0].contains("gone"), "{:?}", o.problems());
}

#[test]
fn move_finishes_when_the_destination_already_holds_the_same_bytes() {
    let (dir, root) = setup();
    // As if an interrupted run renamed the copy into place before removing the source.
    let from = dir.path().join("a");
    let to = dir.path().join("b");
    fs::write(&from, "AAAA").unwrap();
    let mut plan = Plan::new();
    plan.move_to(&root, &from, &root, &to, Verify::Source)
        .unwrap();
    fs::write(&to, "AAAA").unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert!(!from.exists());
    assert_eq!(fs::read_to_string(&to).unwrap(), "AAAA");

    // Same size, other bytes: both are kept.
    let from = dir.path().join("c");
    let to = dir.path().join("d");
    fs::write(&from, "CCCC").unwrap();
    let mut plan = Plan::new();
    plan.move_to(&root, &from, &root, &to, Verify::Source)
        .unwrap();
    fs::write(&to, "DDDD").unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert_eq!(fs::read_to_string(&from).unwrap(), "CCCC");
    assert_eq!(fs::read_to_string(&to).unwrap(), "DDDD");
}

// --- The guard ---------------------------------------------------------------------------------

#[test]
fn a_file_rewritten_to_the_same_size_in_another_second_is_kept() {
    let (dir, root) = setup();
    let f = dir.path().join("blob");
    fs::write(&f, "same size").unwrap();
    filetime::set_file_mtime(&f, filetime::FileTime::from_unix_time(1_000_000, 0)).unwrap();
    let mut plan = Plan::new();
    plan.remove(&root, &f).unwrap();
    fs::write(&f, "SAME SIZE").unwrap();
    filetime::set_file_mtime(&f, filetime::FileTime::from_unix_time(2_000_000, 0)).unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused]);
    assert!(o.problems()[0].contains("modified"), "{:?}", o.problems());
    assert_eq!(fs::read_to_string(&f).unwrap(), "SAME SIZE");
}

#[test]
fn a_root_swapped_for_a_link_to_itself_is_refused() {
    let (dir, _) = setup();
    let store = dir.path().join("store");
    fs::create_dir(&store).unwrap();
    fs::write(store.join("f"), "x").unwrap();
    let root = Root::open(&store).unwrap();
    let mut plan = Plan::new();
    plan.remove(&root, &store.join("f")).unwrap();
    // The very same folder, now reached through a link: still not followed.
    fs::rename(&store, dir.path().join("real")).unwrap();
    symlink(dir.path().join("real"), &store).unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused]);
    assert!(
        o.problems()[0].contains("symbolic link"),
        "{:?}",
        o.problems()
    );
    assert!(dir.path().join("real/f").exists());
}

#[test]
fn a_removal_never_creates_the_folders_on_its_way() {
    let (dir, root) = setup();
    let f = dir.path().join("models--a/blobs/x");
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    fs::write(&f, "x").unwrap();
    let mut plan = Plan::new();
    plan.remove(&root, &f).unwrap();
    fs::remove_dir_all(dir.path().join("models--a")).unwrap();
    let o = run(dir.path(), &plan);
    assert_ne!(status(&o), [Status::Done]);
    assert!(!dir.path().join("models--a").exists());
}

#[test]
fn the_folder_handles_the_guard_holds_are_closed_on_exec() {
    let (dir, root) = setup();
    fs::create_dir_all(dir.path().join("a/b")).unwrap();
    let cloexec = |r: &guard::Resolved| {
        rustix::io::fcntl_getfd(&r.dir)
            .unwrap()
            .contains(rustix::io::FdFlags::CLOEXEC)
    };
    // The root's own handle, then one opened component by component beneath it.
    let top = guard::resolve(&root, Path::new("f"), false).unwrap();
    assert!(cloexec(&top));
    let deep = guard::resolve(&root, Path::new("a/b/f"), false).unwrap();
    assert!(cloexec(&deep));
}

#[test]
fn a_link_planted_in_a_plan_of_a_folder_is_refused() {
    use super::guard::Kind;
    use super::plan::{Action, Step, Target};
    // What a tampered journal could hold: a link whose kept copy is a folder.
    let (dir, root) = setup();
    let folder = dir.path().join("folder");
    fs::create_dir(&folder).unwrap();
    let copy = dir.path().join("copy");
    fs::write(&copy, "x").unwrap();
    let target = |p: &Path| Target {
        root: root.clone(),
        rel: PathBuf::from(p.file_name().unwrap()),
        seen: Some(Fingerprint::of(p).unwrap()),
    };
    let keep = target(&folder);
    assert_eq!(keep.seen.unwrap().kind, Kind::Dir);
    let mut plan = Plan::new();
    plan.steps.push(Step {
        after: Vec::new(),
        group: 0,
        action: Action::Link {
            keep,
            copy: target(&copy),
            kind: LinkKind::Hard,
            sha256: sha(b"x"),
        },
    });
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused], "{:?}", o.problems());
    assert!(folder.is_dir());
    assert_eq!(fs::read_to_string(&copy).unwrap(), "x");
}

#[test]
fn views_name_each_operation_with_its_full_paths() {
    let (dir, root) = setup();
    let p = dir.path();
    fs::write(p.join("f"), "x").unwrap();
    fs::write(p.join("g"), "x").unwrap();
    let mut plan = Plan::new();
    plan.remove(&root, &p.join("f")).unwrap();
    plan.move_to(&root, &p.join("g"), &root, &p.join("h"), Verify::Source)
        .unwrap();
    plan.link(
        &root,
        &p.join("f"),
        &root,
        &p.join("g"),
        LinkKind::Reflink,
        "00",
    )
    .unwrap();
    plan.write(&root, &p.join("w"), b"").unwrap();
    let views = plan.views();
    let root_path = root.path().to_path_buf();
    let got: Vec<(&str, PathBuf, Option<PathBuf>)> = views
        .iter()
        .map(|v| (v.op, v.path.clone(), v.to.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("remove", root_path.join("f"), None),
            ("move", root_path.join("g"), Some(root_path.join("h"))),
            ("reflink", root_path.join("g"), Some(root_path.join("f"))),
            ("write", root_path.join("w"), None),
        ]
    );
}

#[test]
fn roots_know_their_folders_by_identity() {
    let (dir, _) = setup();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    fs::create_dir_all(a.join("x")).unwrap();
    fs::create_dir_all(&b).unwrap();
    let roots = Roots::new([a.clone(), dir.path().join("missing"), b.clone()]);
    assert_eq!(
        roots
            .holding(&a.join("x/file"))
            .map(|r| r.path().to_path_buf()),
        Some(fs::canonicalize(&a).unwrap())
    );
    assert_eq!(
        roots
            .holding(&b.join("new"))
            .map(|r| r.path().to_path_buf()),
        Some(fs::canonicalize(&b).unwrap())
    );
    assert!(roots.holding(&dir.path().join("elsewhere")).is_none());
    let ra = Root::open(&a).unwrap();
    assert!(ra.is(&Root::open(&a.join("x/..")).unwrap()));
    assert!(!ra.is(&Root::open(&b).unwrap()));
}

#[test]
fn a_failure_shows_its_reason() {
    let r = Refusal::Exists {
        path: PathBuf::from("/x"),
    };
    assert_eq!(Failure::from(r.clone()).to_string(), r.to_string());
    assert_eq!(Failure::Io("/x: boom".into()).to_string(), "/x: boom");
}

// --- Trees -------------------------------------------------------------------------------------

#[test]
fn tree_copy_keeps_modes_and_links_and_counts_the_bytes() {
    let (dir, _) = setup();
    let src = dir.path().join("src");
    fs::create_dir_all(src.join("model/sub")).unwrap();
    fs::write(src.join("model/a"), "12345").unwrap();
    fs::write(src.join("model/sub/b"), "678").unwrap();
    symlink("../a", src.join("model/sub/link")).unwrap();
    chmod(&src.join("model/a"), 0o640);
    chmod(&src.join("model/sub"), 0o750);
    let dst = dir.path().join("dst");
    fs::create_dir(&dst).unwrap();
    let (s, d) = (open_dir(&src), open_dir(&dst));
    let n = tree::copy(&s, OsStr::new("model"), &d, OsStr::new("copy"), &src).unwrap();
    assert_eq!(n, 8);
    assert_eq!(fs::read_to_string(dst.join("copy/sub/b")).unwrap(), "678");
    assert_eq!(
        fs::read_link(dst.join("copy/sub/link")).unwrap(),
        Path::new("../a")
    );
    assert_eq!(mode(&dst.join("copy/a")), 0o640);
    assert_eq!(mode(&dst.join("copy/sub")), 0o750);
    assert!(tree::same(&s, OsStr::new("model"), &d, OsStr::new("copy"), &src).unwrap());
    // A link's target, or a file's bytes at the same size, make them differ.
    fs::remove_file(dst.join("copy/sub/link")).unwrap();
    symlink("../b", dst.join("copy/sub/link")).unwrap();
    assert!(!tree::same(&s, OsStr::new("model"), &d, OsStr::new("copy"), &src).unwrap());
    fs::remove_file(dst.join("copy/sub/link")).unwrap();
    symlink("../a", dst.join("copy/sub/link")).unwrap();
    fs::write(dst.join("copy/a"), "12346").unwrap();
    assert!(!tree::same(&s, OsStr::new("model"), &d, OsStr::new("copy"), &src).unwrap());
}

#[test]
fn hashing_at_a_name_never_follows_a_link() {
    let (dir, _) = setup();
    fs::write(dir.path().join("real"), "hello").unwrap();
    symlink("real", dir.path().join("link")).unwrap();
    let d = open_dir(dir.path());
    let p = dir.path().join("link");
    assert_eq!(
        tree::sha256_at(&d, OsStr::new("real"), &p).unwrap(),
        sha(b"hello")
    );
    assert!(tree::sha256_at(&d, OsStr::new("link"), &p).is_err());
    assert!(tree::name_matches_at(&d, OsStr::new("link"), &sha(b"hello"), &p).is_err());
}

// --- Hashes and modelenv's own files ------------------------------------------------------------

#[test]
fn a_file_hash_is_its_sha256() {
    let (dir, _) = setup();
    let f = dir.path().join("f");
    fs::write(&f, "hello").unwrap();
    assert_eq!(hash::sha256_file(&f).unwrap(), sha(b"hello"));
}

#[test]
fn remove_file_accepts_a_missing_file_only() {
    let (dir, _) = setup();
    let f = dir.path().join("f");
    fs::write(&f, "x").unwrap();
    remove_file(&f).unwrap();
    assert!(!f.exists());
    remove_file(&f).unwrap();
    let d = dir.path().join("d");
    fs::create_dir(&d).unwrap();
    assert!(remove_file(&d).is_err());
    assert!(d.is_dir());
}

#[test]
fn sibling_path_is_beside_the_path() {
    assert_eq!(
        sibling_path(Path::new("/hub/models--a"), "restore"),
        Path::new("/hub/models--a.modelenv-restore")
    );
}

// --- Added against the survivors of c128633 (code written after the first analysis) ---------------

/// A tempdir on another filesystem (tmpfs) than `than`, when the machine has one.
fn other_fs(than: &Root) -> Option<(tempfile::TempDir, Root)> {
    let d = tempfile::tempdir_in("/dev/shm").ok()?;
    let r = Root::open(d.path()).ok()?;
    (r.dev() != than.dev()).then_some((d, r))
}

#[test]
fn a_copy_across_filesystems_keeps_its_mode_and_is_checked_against_each_promise() {
    let (dir, root) = setup();
    let Some((other, oroot)) = other_fs(&root) else {
        eprintln!("no second filesystem here; skipped");
        return;
    };
    let cases: [(&str, Verify, &[u8], Status); 3] = [
        (
            "git",
            Verify::Name(git_sha1(b"config")),
            b"config",
            Status::Done,
        ),
        (
            "sha",
            Verify::Sha256(sha(b"weights")),
            b"weights",
            Status::Done,
        ),
        (
            "bad",
            Verify::Sha256(sha(b"other")),
            b"weights",
            Status::Refused,
        ),
    ];
    for (name, verify, data, want) in cases {
        let from = dir.path().join("src").join(name);
        fs::create_dir_all(from.parent().unwrap()).unwrap();
        fs::write(&from, data).unwrap();
        chmod(&from, 0o640);
        let to = other.path().join("dst").join(name);
        let mut plan = Plan::new();
        plan.move_to(&root, &from, &oroot, &to, verify).unwrap();
        let o = run(dir.path(), &plan);
        assert_eq!(status(&o), [want], "{name}: {:?}", o.problems());
        if want == Status::Done {
            assert!(!from.exists(), "{name}");
            assert_eq!(fs::read(&to).unwrap(), data, "{name}");
            assert_eq!(mode(&to), 0o640, "{name}");
        } else {
            assert_eq!(fs::read(&from).unwrap(), data, "{name}");
            assert!(!to.exists(), "{name}");
        }
    }
}

#[test]
fn a_fifo_or_a_link_planted_as_a_stores_lock_file_is_never_opened_through() {
    let dir = tempfile::tempdir().unwrap();
    let fifo_store = dir.path().join("fifo-store");
    fs::create_dir_all(&fifo_store).unwrap();
    mkfifo(&StoreLock::store(&fifo_store, false));
    let state = dir.path().join("state-a");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = StoreLock::acquire(&state, "prune")
            .and_then(|l| l.with_stores(&[(fifo_store, false)], "prune"))
            .map(drop);
        let _ = tx.send(r.is_ok());
    });
    let done = rx.recv_timeout(std::time::Duration::from_secs(20));
    assert_eq!(done, Ok(true), "locking a store hung on a FIFO");

    let link_store = dir.path().join("link-store");
    fs::create_dir_all(&link_store).unwrap();
    let victim = dir.path().join("victim");
    symlink(&victim, StoreLock::store(&link_store, false)).unwrap();
    let _lock = StoreLock::acquire(&dir.path().join("state-b"), "prune")
        .unwrap()
        .with_stores(&[(link_store, false)], "prune")
        .unwrap();
    assert!(
        fs::symlink_metadata(&victim).is_err(),
        "a lock was made through a link"
    );
}
