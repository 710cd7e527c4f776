//! One test per guard rule: each builds the situation on a real disk, runs the operation and
//! checks that nothing the rule protects changed.

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use super::*;

pub(super) fn setup() -> (tempfile::TempDir, Root) {
    let dir = tempfile::tempdir().unwrap();
    let root = Root::open(dir.path()).unwrap();
    (dir, root)
}

pub(super) fn run(dir: &Path, plan: &Plan) -> Outcome {
    Run::new(&dir.join(".state"), "test", None)
        .execute(plan)
        .unwrap()
}

pub(super) fn status(o: &Outcome) -> Vec<Status> {
    o.results.iter().map(|r| r.status).collect()
}

pub(super) fn sha(s: &[u8]) -> String {
    hash::sha256_reader(s, s.len() as u64).unwrap()
}

/// A tempdir on another filesystem than the default one, when the machine has one.
pub(super) fn other_fs(than: &Path) -> Option<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    let d = tempfile::tempdir_in(shm).ok()?;
    (fs::metadata(d.path()).ok()?.dev() != fs::metadata(than).ok()?.dev()).then_some(d)
}

#[test]
fn removes_a_file_it_planned() {
    let (dir, root) = setup();
    let f = dir.path().join("a/b");
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    fs::write(&f, "x").unwrap();
    let mut plan = Plan::new();
    plan.remove(&root, &f).unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert!(!f.exists());
    // Run again: found done, not an error.
    assert_eq!(status(&run(dir.path(), &plan)), [Status::AlreadyDone]);
}

#[test]
fn a_file_changed_since_the_plan_is_kept() {
    let (dir, root) = setup();
    let f = dir.path().join("blob");
    fs::write(&f, "old").unwrap();
    let mut plan = Plan::new();
    plan.remove(&root, &f).unwrap();
    fs::write(&f, "a download wrote more").unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused]);
    assert!(
        o.problems()[0].contains("changed since the plan"),
        "{:?}",
        o.problems()
    );
    assert_eq!(fs::read_to_string(&f).unwrap(), "a download wrote more");
}

#[test]
fn a_file_replaced_since_the_plan_is_kept() {
    let (dir, root) = setup();
    let f = dir.path().join("blob");
    fs::write(&f, "one").unwrap();
    let mut plan = Plan::new();
    plan.remove(&root, &f).unwrap();
    fs::remove_file(&f).unwrap();
    fs::write(dir.path().join("new"), "two").unwrap();
    fs::rename(dir.path().join("new"), &f).unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert_eq!(fs::read_to_string(&f).unwrap(), "two");
}

#[test]
fn a_path_outside_the_root_cannot_be_planned() {
    let (dir, _) = setup();
    let store = dir.path().join("store");
    fs::create_dir(&store).unwrap();
    let root = Root::open(&store).unwrap();
    let outside = dir.path().join("user-file");
    fs::write(&outside, "mine").unwrap();
    let mut plan = Plan::new();
    for p in [outside.clone(), store.join("../user-file")] {
        let err = plan.remove(&root, &p).unwrap_err();
        assert!(matches!(err, Refusal::OutsideRoot { .. }), "{err}");
    }
    assert!(plan.is_empty());
    assert!(outside.exists());
}

#[test]
fn a_link_out_of_the_root_is_never_followed() {
    let (dir, _) = setup();
    let store = dir.path().join("store");
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir_all(&store).unwrap();
    fs::create_dir_all(elsewhere.join("snap")).unwrap();
    fs::write(elsewhere.join("snap/weights"), "real model").unwrap();
    symlink(&elsewhere, store.join("models--org--alias")).unwrap();
    let root = Root::open(&store).unwrap();
    let mut plan = Plan::new();
    // A file reached through the link is not inside the store.
    let err = plan
        .remove(&root, &store.join("models--org--alias/snap/weights"))
        .unwrap_err();
    assert!(matches!(err, Refusal::OutsideRoot { .. }), "{err}");
    // Removing the alias removes the link, never what it points to.
    plan.remove_tree(&root, &store.join("models--org--alias"))
        .unwrap();
    assert_eq!(plan.views()[0].op, "remove");
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert!(fs::symlink_metadata(store.join("models--org--alias")).is_err());
    assert_eq!(
        fs::read_to_string(elsewhere.join("snap/weights")).unwrap(),
        "real model"
    );
}

#[test]
fn a_folder_swapped_for_a_link_after_the_plan_is_refused() {
    let (dir, root) = setup();
    let repo = dir.path().join("models--a");
    fs::create_dir_all(repo.join("blobs")).unwrap();
    fs::write(repo.join("blobs/x"), "blob").unwrap();
    let victim = dir.path().join("victim");
    fs::create_dir_all(victim.join("blobs")).unwrap();
    fs::write(victim.join("blobs/x"), "blob").unwrap();
    let mut plan = Plan::new();
    plan.remove(&root, &repo.join("blobs/x")).unwrap();
    // Between plan and execution, the folder on the way becomes a link elsewhere.
    fs::rename(&repo, dir.path().join("moved")).unwrap();
    symlink(&victim, &repo).unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused]);
    assert!(
        o.problems()[0].contains("symbolic link"),
        "{:?}",
        o.problems()
    );
    assert!(victim.join("blobs/x").exists());
}

#[test]
fn a_root_replaced_after_the_plan_is_refused() {
    let (dir, _) = setup();
    let store = dir.path().join("store");
    fs::create_dir(&store).unwrap();
    fs::write(store.join("f"), "x").unwrap();
    let root = Root::open(&store).unwrap();
    let mut plan = Plan::new();
    plan.remove(&root, &store.join("f")).unwrap();
    fs::rename(&store, dir.path().join("old")).unwrap();
    fs::create_dir(&store).unwrap();
    fs::write(store.join("f"), "x").unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert!(store.join("f").exists());
}

#[test]
fn special_files_are_never_touched() {
    let (dir, root) = setup();
    let fifo = dir.path().join("pipe");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let mut plan = Plan::new();
    let err = plan.remove(&root, &fifo).unwrap_err();
    assert!(matches!(err, Refusal::SpecialFile { .. }), "{err}");
    // A folder holding one is refused whole, at plan time or when it shows up later:
    // nothing in it is deleted.
    let d = dir.path().join("d");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("a"), "keep").unwrap();
    plan.remove_tree(&root, &d).unwrap();
    fs::rename(&fifo, d.join("pipe")).unwrap();
    let err = Plan::new().remove_tree(&root, &d).unwrap_err();
    assert!(matches!(err, Refusal::SpecialFile { .. }), "{err}");
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused]);
    assert!(d.join("a").exists() && d.join("pipe").exists());
}

#[test]
fn remove_tree_removes_links_not_their_targets() {
    let (dir, root) = setup();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("user"), "mine").unwrap();
    let snap = dir.path().join("snapshots/abc");
    fs::create_dir_all(&snap).unwrap();
    symlink(outside.path(), snap.join("dir-link")).unwrap();
    symlink(outside.path().join("user"), snap.join("file-link")).unwrap();
    let mut plan = Plan::new();
    plan.remove_tree(&root, &dir.path().join("snapshots"))
        .unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert!(!dir.path().join("snapshots").exists());
    assert_eq!(
        fs::read_to_string(outside.path().join("user")).unwrap(),
        "mine"
    );
}

/// A folder a plan carries away is removed only when every file with bytes in it was moved
/// out or checked against a hash by an earlier step (or is bookkeeping the caller names): a
/// planner that forgot one file cannot delete it.
#[test]
fn an_accounted_removal_needs_every_file_moved_or_proven() {
    let (dir, root) = setup();
    let cache = dir.path().join("cache");
    fs::create_dir_all(cache.join("sub")).unwrap();
    fs::write(cache.join("weights"), "w").unwrap();
    fs::write(cache.join("sub/adapter"), "the only copy").unwrap();
    fs::write(cache.join("sub/checked"), "c").unwrap();
    fs::write(cache.join("empty"), "").unwrap();
    fs::write(cache.join("lock"), "x").unwrap();
    let dest = dir.path().join("central");
    fs::create_dir(&dest).unwrap();
    let exempt = |rel: &Path| rel == Path::new("lock");

    let mut plan = Plan::new();
    plan.move_to(
        &root,
        &cache.join("weights"),
        &root,
        &dest.join("weights"),
        Verify::Source,
    )
    .unwrap();
    plan.check(&root, &cache.join("sub/checked"), Verify::Sha256(sha(b"c")))
        .unwrap();
    let err = plan
        .remove_accounted_tree(&root, &cache, exempt)
        .unwrap_err();
    assert!(
        matches!(&err, Refusal::Unaccounted { path } if path.ends_with("sub/adapter")),
        "{err}"
    );
    // A check that proves nothing (the file as it was, no hash) does not account for it.
    plan.check(&root, &cache.join("sub/adapter"), Verify::Source)
        .unwrap();
    assert!(plan.remove_accounted_tree(&root, &cache, exempt).is_err());
    plan.move_to(
        &root,
        &cache.join("sub/adapter"),
        &root,
        &dest.join("adapter"),
        Verify::Source,
    )
    .unwrap();
    plan.remove_accounted_tree(&root, &cache, exempt).unwrap();
    let o = run(dir.path(), &plan);
    assert!(o.complete(), "{:?}", o.problems());
    assert!(!cache.exists());
    assert_eq!(
        fs::read_to_string(dest.join("adapter")).unwrap(),
        "the only copy"
    );
}

#[test]
fn another_filesystem_is_refused_for_links_and_trees() {
    let (dir, root) = setup();
    let Some(other) = other_fs(dir.path()) else {
        eprintln!("no second filesystem here; skipped");
        return;
    };
    let oroot = Root::open(other.path()).unwrap();
    fs::write(dir.path().join("keep"), "same").unwrap();
    fs::write(other.path().join("copy"), "same").unwrap();
    let mut plan = Plan::new();
    let err = plan
        .link(
            &root,
            &dir.path().join("keep"),
            &oroot,
            &other.path().join("copy"),
            LinkKind::Hard,
            &sha(b"same"),
        )
        .unwrap_err();
    assert!(matches!(err, Refusal::OtherFilesystem { .. }), "{err}");
}

#[test]
fn a_mount_inside_a_tree_stops_its_removal() {
    let (dir, root) = setup();
    let mnt = dir.path().join("store/mnt");
    fs::create_dir_all(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("cannot mount here (not root?); skipped");
        return;
    }
    fs::write(mnt.join("other-disk"), "x").unwrap();
    let mut plan = Plan::new();
    plan.remove_tree(&root, &dir.path().join("store")).unwrap();
    let o = run(dir.path(), &plan);
    let kept = mnt.join("other-disk").exists();
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    assert_eq!(status(&o), [Status::Refused]);
    assert!(
        o.problems()[0].contains("another filesystem"),
        "{:?}",
        o.problems()
    );
    assert!(kept);
}

#[test]
fn link_hashes_both_copies_again_right_before_linking() {
    let (dir, root) = setup();
    let keep = dir.path().join("keep");
    let copy = dir.path().join("copy");
    fs::write(&keep, "AAAA").unwrap();
    fs::write(&copy, "AAAA").unwrap();
    let mut plan = Plan::new();
    plan.link(&root, &keep, &root, &copy, LinkKind::Hard, &sha(b"AAAA"))
        .unwrap();
    // Same size, same mtime, other bytes: only a hash can tell.
    let mtime = filetime::FileTime::from_last_modification_time(&fs::metadata(&copy).unwrap());
    fs::OpenOptions::new()
        .write(true)
        .open(&copy)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"BBBB"))
        .unwrap();
    filetime::set_file_mtime(&copy, mtime).unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused]);
    assert_eq!(fs::read_to_string(&copy).unwrap(), "BBBB");
    assert_ne!(
        fs::metadata(&keep).unwrap().ino(),
        fs::metadata(&copy).unwrap().ino()
    );
}

#[test]
fn link_replaces_the_copy_and_is_found_done_again() {
    let (dir, root) = setup();
    let keep = dir.path().join("keep");
    let copy = dir.path().join("sub/copy");
    fs::create_dir_all(copy.parent().unwrap()).unwrap();
    fs::write(&keep, "data").unwrap();
    fs::write(&copy, "data").unwrap();
    let mut plan = Plan::new();
    plan.link(&root, &keep, &root, &copy, LinkKind::Hard, &sha(b"data"))
        .unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert_eq!(
        fs::metadata(&keep).unwrap().ino(),
        fs::metadata(&copy).unwrap().ino()
    );
    assert_eq!(status(&run(dir.path(), &plan)), [Status::AlreadyDone]);
    assert!(!dir.path().join("sub/copy.modelenv-link").exists());
}

#[test]
fn a_move_on_one_filesystem_reads_no_data() {
    let (dir, root) = setup();
    let data = vec![7u8; 300_000];
    let name = sha(&data);
    let from = dir.path().join("local").join(&name);
    fs::create_dir_all(from.parent().unwrap()).unwrap();
    fs::write(&from, &data).unwrap();
    let to = dir.path().join("central/blobs").join(&name);
    let mut plan = Plan::new();
    plan.move_to(&root, &from, &root, &to, Verify::Name(name.clone()))
        .unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Done]);
    assert_eq!(o.bytes_read, 0, "a rename read data");
    assert_eq!(fs::read(&to).unwrap(), data);
}

#[test]
fn a_copy_across_filesystems_is_verified_against_the_blob_name() {
    let (dir, root) = setup();
    let Some(other) = other_fs(dir.path()) else {
        eprintln!("no second filesystem here; skipped");
        return;
    };
    let oroot = Root::open(other.path()).unwrap();
    let good = sha(b"weights");
    let from = dir.path().join("local").join(&good);
    fs::create_dir_all(from.parent().unwrap()).unwrap();
    fs::write(&from, "bit rot").unwrap();
    let to = other.path().join("central/blobs").join(&good);
    let mut plan = Plan::new();
    plan.move_to(&root, &from, &oroot, &to, Verify::Name(good.clone()))
        .unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert!(from.exists() && !to.exists());
    let partial = other
        .path()
        .join("central/blobs")
        .join(format!("{good}.modelenv-partial"));
    assert!(!partial.exists(), "the refused copy was left behind");
    // The right bytes go, read once each side.
    fs::write(&from, "weights").unwrap();
    let mut plan = Plan::new();
    plan.move_to(&root, &from, &oroot, &to, Verify::Name(good.clone()))
        .unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Done]);
    assert_eq!(o.bytes_read, 2 * 7);
    assert_eq!(fs::read_to_string(&to).unwrap(), "weights");
    assert!(!from.exists());
}

#[test]
fn move_across_filesystems_copies_verifies_then_removes_the_source() {
    let (dir, root) = setup();
    let Some(other) = other_fs(dir.path()) else {
        eprintln!("no second filesystem here; skipped");
        return;
    };
    let oroot = Root::open(other.path()).unwrap();
    let model = dir.path().join("models--a");
    fs::create_dir_all(model.join("snapshots/c")).unwrap();
    fs::create_dir_all(model.join("blobs")).unwrap();
    fs::write(model.join("blobs/b1"), "weights").unwrap();
    symlink("../../blobs/b1", model.join("snapshots/c/w")).unwrap();
    let dest = other.path().join("archive/models--a");
    let mut plan = Plan::new();
    plan.move_to(&root, &model, &oroot, &dest, Verify::Source)
        .unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert!(!model.exists());
    assert_eq!(
        fs::read_to_string(dest.join("snapshots/c/w")).unwrap(),
        "weights"
    );
    assert!(
        !other
            .path()
            .join("archive/models--a.modelenv-partial")
            .exists()
    );
}

#[test]
fn move_never_replaces_what_appeared_at_the_destination() {
    let (dir, root) = setup();
    let from = dir.path().join("a");
    let to = dir.path().join("b");
    fs::write(&from, "mine").unwrap();
    let mut plan = Plan::new();
    plan.move_to(&root, &from, &root, &to, Verify::Source)
        .unwrap();
    fs::write(&to, "someone else's").unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert_eq!(fs::read_to_string(&to).unwrap(), "someone else's");
    assert_eq!(fs::read_to_string(&from).unwrap(), "mine");
}

#[test]
fn a_refused_operation_skips_the_rest_of_its_group_only() {
    let (dir, root) = setup();
    for n in ["snap", "blob", "other"] {
        fs::write(dir.path().join(n), n).unwrap();
    }
    let mut item = Plan::new();
    item.remove(&root, &dir.path().join("snap")).unwrap();
    item.remove(&root, &dir.path().join("blob")).unwrap();
    let mut other = Plan::new();
    other.remove(&root, &dir.path().join("other")).unwrap();
    let mut plan = Plan::new();
    let g = plan.push_group(item);
    plan.push_group(other);
    fs::write(dir.path().join("snap"), "changed!").unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused, Status::Skipped, Status::Done]);
    assert!(!o.group_ok(g));
    assert!(dir.path().join("blob").exists());
    assert!(!dir.path().join("other").exists());
}

#[test]
fn write_refuses_a_file_changed_since_the_plan_and_keeps_links() {
    let (dir, root) = setup();
    let f = dir.path().join(".bashrc");
    fs::write(&f, "mine\n").unwrap();
    let mut plan = Plan::new();
    plan.write(&root, &f, b"mine\nexport X=1\n").unwrap();
    fs::write(&f, "edited meanwhile\n").unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert_eq!(fs::read_to_string(&f).unwrap(), "edited meanwhile\n");
    // A name that became a link is not written through.
    let target = dir.path().join("target");
    fs::write(&target, "t").unwrap();
    let g = dir.path().join("new");
    let mut plan = Plan::new();
    plan.write(&root, &g, b"x").unwrap();
    symlink(&target, &g).unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert_eq!(fs::read_to_string(&target).unwrap(), "t");
}

#[test]
fn an_interrupted_plan_is_finished_by_resume() {
    let (dir, root) = setup();
    let state = dir.path().join(".state");
    for n in ["a", "b", "c"] {
        fs::write(dir.path().join(n), n).unwrap();
    }
    let mut plan = Plan::new();
    for n in ["a", "b", "c"] {
        plan.remove(&root, &dir.path().join(n)).unwrap();
    }
    // As if killed after the first operation: the journal holds the plan and one done note.
    let mut j = journal::Journal::begin(&state, "prune", &plan).unwrap();
    fs::remove_file(dir.path().join("a")).unwrap();
    j.done(0);
    drop(j);
    assert_eq!(interrupted(&state).unwrap().len(), 1);
    let resumed = Run::new(&state, "resume", None).resume().unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].0, "prune");
    assert_eq!(
        status(&resumed[0].1),
        [Status::AlreadyDone, Status::Done, Status::Done]
    );
    assert!(interrupted(&state).unwrap().is_empty());
    let left: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != ".state")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// util-linux `flock` holding `lock` in another process until killed (`--close`: the command
/// it runs does not inherit the lock, so killing flock releases it).
pub(super) fn other_process_holds(lock: &Path) -> std::process::Child {
    let child = std::process::Command::new("flock")
        .arg("--close")
        .arg(lock)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    while others_can_lock(lock) {
        assert!(
            t.elapsed().as_secs() < 10,
            "flock never took {}",
            lock.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

/// Whether another process could take `lock` right now.
pub(super) fn others_can_lock(lock: &Path) -> bool {
    std::process::Command::new("flock")
        .args(["-n", "-E", "7"])
        .arg(lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
}

#[test]
fn the_store_lock_admits_one_process_at_a_time_and_nests_within_one() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("modelenv.lock");
    fs::write(&lock, "").unwrap();
    let mut other = other_process_holds(&lock);
    let err = StoreLock::acquire(dir.path(), "migrate").err().unwrap();
    assert!(err.to_string().contains("another modelenv"), "{err}");
    // The kernel names the holder.
    assert!(
        err.to_string()
            .contains(&format!("by process {}:", other.id())),
        "{err}"
    );
    other.kill().unwrap();
    other.wait().unwrap();
    // Within one process (config set --apply runs install and migrate), a second acquire
    // goes on under the first, and the lock stays held until the first is dropped.
    let first = StoreLock::acquire(dir.path(), "config set").unwrap();
    let inner = StoreLock::acquire(dir.path(), "install").unwrap();
    assert!(!others_can_lock(&lock));
    drop(inner);
    assert!(
        !others_can_lock(&lock),
        "dropping the inner lock released it"
    );
    drop(first);
    assert!(others_can_lock(&lock));
}

#[test]
fn remove_tree_keeps_a_folder_that_gained_or_changed_files_since_the_plan() {
    let (dir, root) = setup();
    let cache = dir.path().join("model_cache");
    fs::create_dir_all(cache.join("models--a/blobs")).unwrap();
    fs::write(cache.join("models--a/blobs/b"), "blob").unwrap();
    let mut plan = Plan::new();
    plan.remove_tree(&root, &cache).unwrap();
    // The user saves new work there after the plan (a killed run resumed much later).
    fs::create_dir_all(cache.join("my-finetune")).unwrap();
    fs::write(cache.join("my-finetune/adapter.safetensors"), "mine").unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused]);
    assert!(
        o.problems()[0].contains("appeared after the plan"),
        "{:?}",
        o.problems()
    );
    assert!(cache.join("my-finetune/adapter.safetensors").exists());
    // A file rewritten since the plan is kept too.
    fs::remove_dir_all(cache.join("my-finetune")).unwrap();
    fs::write(cache.join("models--a/blobs/b"), "rewritten").unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert!(cache.join("models--a/blobs/b").exists());
}

#[test]
fn remove_tree_accepts_what_earlier_steps_moved_out() {
    let (dir, root) = setup();
    let cache = dir.path().join("model_cache");
    fs::create_dir_all(cache.join("blobs")).unwrap();
    fs::write(cache.join("blobs/b"), "blob").unwrap();
    fs::write(cache.join("blobs/c"), "other").unwrap();
    let mut plan = Plan::new();
    plan.move_to(
        &root,
        &cache.join("blobs/b"),
        &root,
        &dir.path().join("central/b"),
        Verify::Source,
    )
    .unwrap();
    plan.remove_tree(&root, &cache).unwrap();
    assert_eq!(
        status(&run(dir.path(), &plan)),
        [Status::Done, Status::Done]
    );
    assert!(!cache.exists());
    assert_eq!(
        fs::read_to_string(dir.path().join("central/b")).unwrap(),
        "blob"
    );
}

#[test]
fn removal_checks_each_entry_again_as_it_goes() {
    // The second pass of a folder removal sees an entry the first pass did not (it appeared
    // in between): it stays, and so does its folder.
    let (dir, root) = setup();
    let cache = dir.path().join("cache");
    fs::create_dir_all(cache.join("snapshots/a")).unwrap();
    fs::write(cache.join("snapshots/a/f"), "seen").unwrap();
    let manifest = tree::manifest_of(&cache).unwrap();
    fs::write(cache.join("snapshots/a/new-output"), "written meanwhile").unwrap();
    let r = guard::resolve(&root, Path::new("cache"), false).unwrap();
    // The pass that deletes, on its own (as if the first pass had run before the write).
    let err = tree::remove_checked(
        &r.dir,
        r.name(),
        &r.path,
        Path::new(""),
        root.dev(),
        Some(&manifest),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("changed"), "{err}");
    assert_eq!(
        fs::read_to_string(cache.join("snapshots/a/new-output")).unwrap(),
        "written meanwhile"
    );
}

#[test]
fn an_orphan_a_download_links_to_after_the_plan_is_kept() {
    let (dir, root) = setup();
    let repo = dir.path().join("models--o--m");
    fs::create_dir_all(repo.join("blobs")).unwrap();
    fs::create_dir_all(repo.join("snapshots")).unwrap();
    let blob = repo.join("blobs/abc");
    fs::write(&blob, "old orphan").unwrap();
    let mut plan = Plan::new();
    plan.remove_unreached(&root, &blob, &repo.join("snapshots"))
        .unwrap();
    // huggingface_hub finds the blob in place and links a new snapshot file to it.
    fs::create_dir_all(repo.join("snapshots/c1")).unwrap();
    symlink("../../blobs/abc", repo.join("snapshots/c1/w.bin")).unwrap();
    let o = run(dir.path(), &plan);
    assert_eq!(status(&o), [Status::Refused]);
    assert!(
        o.problems()[0].contains("links to it now"),
        "{:?}",
        o.problems()
    );
    assert!(blob.exists());
    // Unlinked again, it goes.
    fs::remove_file(repo.join("snapshots/c1/w.bin")).unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Done]);
    assert!(!blob.exists());
}

#[test]
fn link_back_gives_a_moved_file_its_old_name_again() {
    let (dir, root) = setup();
    let from = dir.path().join("local/w.bin");
    fs::create_dir_all(from.parent().unwrap()).unwrap();
    fs::write(&from, "data").unwrap();
    let ino = fs::metadata(&from).unwrap().ino();
    let to = dir.path().join("central/blobs").join(sha(b"data"));
    let mut plan = Plan::new();
    plan.move_to(&root, &from, &root, &to, Verify::Name(sha(b"data")))
        .unwrap();
    plan.link_back(&root, &from, &root, &to).unwrap();
    assert_eq!(
        status(&run(dir.path(), &plan)),
        [Status::Done, Status::Done]
    );
    assert_eq!(fs::metadata(&from).unwrap().ino(), ino);
    assert_eq!(fs::metadata(&to).unwrap().ino(), ino);
    // Run again (a resume that finds both done): the same file under both names.
    run(dir.path(), &plan);
    assert_eq!(fs::metadata(&from).unwrap().ino(), ino);
    assert_eq!(fs::metadata(&to).unwrap().ino(), ino);
    assert_eq!(fs::read(&from).unwrap(), b"data");
}

#[test]
fn link_back_never_links_a_file_the_plan_did_not_see() {
    let (dir, root) = setup();
    let from = dir.path().join("w.bin");
    fs::write(&from, "data").unwrap();
    let to = dir.path().join("blob");
    let mut plan = Plan::new();
    plan.link_back(&root, &from, &root, &to).unwrap();
    // Something else appears where the moved file was expected.
    fs::write(&to, "other").unwrap();
    fs::remove_file(&from).unwrap();
    assert_eq!(status(&run(dir.path(), &plan)), [Status::Refused]);
    assert!(!from.exists());
    assert_eq!(fs::read(&to).unwrap(), b"other");
}
