//! Carrying out a plan: each operation resolved beneath its root, checked against what the plan
//! saw, done through directory handles, journaled, and reported.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Result;
use rustix::fs::{AtFlags, RenameFlags};
use rustix::io::Errno;
use serde::Serialize;

use super::guard::{Failure, Fingerprint, Kind, Refusal, Resolved, resolve};
use super::journal::Journal;
use super::plan::{Action, LinkKind, OpView, Plan, Step, Target, Verify};
use super::tree;
use super::write::{sibling, write_at};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Done now.
    Done,
    /// Found already done (a rerun after an interruption).
    AlreadyDone,
    /// Left on purpose (a folder that is not empty).
    Kept,
    /// The guard would not do it; nothing changed.
    Refused,
    /// It failed part-way; what it touched is left as the guard found it or restorable.
    Failed,
    /// Not tried: an earlier operation of its group did not happen.
    Skipped,
}

impl Status {
    fn ok(self) -> bool {
        matches!(self, Status::Done | Status::AlreadyDone | Status::Kept)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct OpResult {
    #[serde(flatten)]
    pub op: OpView,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip)]
    pub group: u32,
}

/// How far a plan got: one result per planned operation, in order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    pub results: Vec<OpResult>,
    /// Bytes of file data read to hash and copy: 0 when every move was a rename.
    pub bytes_read: u64,
}

impl Outcome {
    /// Every operation happened (or was found done).
    pub fn complete(&self) -> bool {
        self.results.iter().all(|r| r.status.ok())
    }

    /// Every operation of `group` happened.
    pub fn group_ok(&self, group: u32) -> bool {
        self.results
            .iter()
            .filter(|r| r.group == group)
            .all(|r| r.status.ok())
    }

    /// One line per operation that did not happen, saying why.
    pub fn problems(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|r| !r.status.ok())
            .map(|r| match &r.detail {
                Some(d) => format!("{} {}: {d}", r.op.op, r.op.path.display()),
                None => format!("{} {}: skipped", r.op.op, r.op.path.display()),
            })
            .collect()
    }
}

/// One command's execution: its journal, its kill hook for tests, its step count.
pub struct Run {
    state_dir: PathBuf,
    command: String,
    kill_after: Option<u64>,
    steps: u64,
    progress: bool,
}

fn refused(r: Refusal) -> Failure {
    Failure::Refused(r)
}

fn check_seen(target: &Target, r: &Resolved) -> Result<Fingerprint, Failure> {
    let Some(now) = r.now else {
        return Err(refused(Refusal::Changed {
            path: r.path.clone(),
            what: "it is gone".into(),
        }));
    };
    if let Some(seen) = &target.seen
        && let Some(what) = seen.differs(&now)
    {
        return Err(refused(Refusal::Changed {
            path: r.path.clone(),
            what,
        }));
    }
    if now.dev != target.root.dev() {
        return Err(refused(Refusal::OtherFilesystem {
            path: r.path.clone(),
        }));
    }
    Ok(now)
}

/// Refuses when what is at the name now is not what was checked a moment ago (a save by
/// write-and-rename, or a write in place, while it was hashed or copied).
fn still(r: &Resolved, name: &OsStr, expect: &Fingerprint) -> Result<(), Failure> {
    let now = super::guard::stat_at(&r.dir, name, &r.path)?;
    match now {
        Some(now) if expect.differs(&now).is_none() => Ok(()),
        _ => Err(refused(Refusal::Changed {
            path: r.path.clone(),
            what: "it changed while it was being read".into(),
        })),
    }
}

/// A link below `dir` that leads (through any links) to the file with this identity. Only
/// reads; links are followed to compare, never to act.
fn reaching_link(dir: &Path, id: (u64, u64)) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_symlink())
        .find(|e| std::fs::metadata(e.path()).is_ok_and(|m| (m.dev(), m.ino()) == id))
        .map(|e| e.path().to_path_buf())
}

fn io(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::io(path, e)
}

fn unlink(r: &Resolved, name: &OsStr, flags: AtFlags) -> Result<(), Failure> {
    rustix::fs::unlinkat(&r.dir, name, flags).map_err(|e| io(&r.path, e))
}

/// Removes whatever a failed earlier run left at a temporary name.
fn clear(r: &Resolved, name: &OsStr, dev: u64) -> Result<(), Failure> {
    match rustix::fs::statat(&r.dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(io(&r.path, e)),
        Ok(st) if rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir() => {
            tree::remove_tree(&r.dir, name, &r.path.with_file_name(name), dev, None)
        }
        Ok(_) => unlink(r, name, AtFlags::empty()),
    }
}

fn verify_at(r: &Resolved, verify: &Verify) -> Result<(), Failure> {
    let ok = match verify {
        Verify::Name(n) => tree::name_matches_at(&r.dir, r.name(), n, &r.path)? != Some(false),
        Verify::Sha256(h) => tree::sha256_at(&r.dir, r.name(), &r.path)? == *h,
        Verify::Source => true,
    };
    if ok {
        Ok(())
    } else {
        Err(refused(Refusal::ContentDiffers {
            path: r.path.clone(),
        }))
    }
}

/// The folders an operation changes the entries of (where this user needs write access).
fn changed_dirs(a: &Action) -> Vec<PathBuf> {
    let parent = |t: &Target| t.path().parent().map(Path::to_path_buf);
    let v = match a {
        Action::Remove { target }
        | Action::RemoveUnreached { target, .. }
        | Action::RemoveEmptyDir { target }
        | Action::Write { target, .. }
        | Action::CreateDir { target } => vec![parent(target)],
        Action::RemoveTree { target, .. } => vec![parent(target), Some(target.path())],
        Action::Move { from, to, .. } => vec![parent(from), parent(to)],
        Action::Symlink { at, .. } => vec![parent(at)],
        Action::Link { copy, .. } => vec![parent(copy)],
        Action::HardLink { at, .. } => vec![parent(at)],
        Action::Check { .. } | Action::Share { .. } => vec![],
    };
    v.into_iter().flatten().collect()
}

/// Check everything, then change: every folder the plan changes must be writable by this
/// user (a store shared with others, a read-only mount), or nothing is done.
fn preflight(plan: &Plan) -> Result<()> {
    let mut seen = HashSet::new();
    let mut denied: Vec<(PathBuf, Errno)> = Vec::new();
    for s in &plan.steps {
        for dir in changed_dirs(&s.action) {
            let Some(existing) = dir.ancestors().find(|a| a.exists()).map(Path::to_path_buf) else {
                continue;
            };
            if !seen.insert(existing.clone()) {
                continue;
            }
            let access = rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK;
            if let Err(e @ (Errno::ACCESS | Errno::PERM | Errno::ROFS)) =
                rustix::fs::accessat(rustix::fs::CWD, &existing, access, AtFlags::EACCESS)
            {
                denied.push((existing, e));
            }
        }
    }
    if let Some((first, e)) = denied.first() {
        let more = match denied.len() {
            1 => String::new(),
            n => format!(" and {} more folder(s)", n - 1),
        };
        anyhow::bail!(
            "this user cannot change {}{more} ({e}); nothing was changed. For a store shared with other users, its owner or root can run `modelenv share init` on it",
            first.display()
        );
    }
    Ok(())
}

fn rename_noreplace(a: &Resolved, b: &Resolved, to: &OsStr) -> Result<(), Errno> {
    match rustix::fs::renameat_with(&a.dir, a.name(), &b.dir, to, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL | Errno::NOSYS) => {
            // A filesystem without RENAME_NOREPLACE: the guard already saw the name free.
            match rustix::fs::statat(&b.dir, to, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(_) => Err(Errno::EXIST),
                Err(_) => rustix::fs::renameat(&a.dir, a.name(), &b.dir, to),
            }
        }
        other => other,
    }
}

impl Run {
    /// `kill_after`: a test hook (Settings reads `MODELENV_TEST_KILL_AFTER`) that ends the
    /// process with SIGKILL after that many changes, to prove a rerun finishes the work.
    pub fn new(state_dir: &Path, command: &str, kill_after: Option<u64>) -> Run {
        Run {
            state_dir: state_dir.to_path_buf(),
            command: command.to_owned(),
            kill_after,
            steps: 0,
            progress: false,
        }
    }

    /// Shows a progress bar on stderr (for a terminal) while the plan runs.
    pub fn with_progress(mut self, on: bool) -> Run {
        self.progress = on;
        self
    }

    fn step(&mut self) {
        self.steps += 1;
        if self.kill_after.is_some_and(|n| self.steps >= n) {
            // SAFETY: getpid and kill have no preconditions; this ends the process at once.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }

    /// Executes exactly `plan`: the journal is written first, each operation is guarded, and
    /// an operation that does not happen skips the rest of its group.
    pub fn execute(&mut self, plan: &Plan) -> Result<Outcome> {
        if plan.is_empty() {
            return Ok(Outcome::default());
        }
        preflight(plan)?;
        let mut journal = Journal::begin(&self.state_dir, &self.command, plan)?;
        let before = tree::bytes_read();
        let mut out = self.run_steps(&plan.steps, &HashSet::new(), Some(&mut journal));
        out.bytes_read = tree::bytes_read() - before;
        journal.finish()?;
        Ok(out)
    }

    /// Finishes the plans that earlier runs left unfinished (killed, or the machine stopped).
    pub fn resume(&mut self) -> Result<Vec<(String, Outcome)>> {
        let mut out = Vec::new();
        for (command, plan, done) in super::journal::interrupted(&self.state_dir)? {
            let mut journal = Journal::reopen(&self.state_dir, &command)?;
            let o = self.run_steps(&plan.steps, &done, Some(&mut journal));
            journal.finish()?;
            out.push((command, o));
        }
        Ok(out)
    }

    fn run_steps(
        &mut self,
        steps: &[Step],
        done: &HashSet<usize>,
        mut journal: Option<&mut Journal>,
    ) -> Outcome {
        let mut failed_groups: HashSet<u32> = HashSet::new();
        let mut out = Outcome::default();
        let bar = self.progress.then(|| {
            let pb = indicatif::ProgressBar::new(steps.len() as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} operations {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        });
        for (i, s) in steps.iter().enumerate() {
            if let Some(b) = &bar {
                b.set_position(i as u64);
            }
            let (status, detail) = if done.contains(&i) {
                (Status::AlreadyDone, None)
            } else if failed_groups.contains(&s.group) {
                (
                    Status::Skipped,
                    Some("an earlier step for the same item did not happen".to_owned()),
                )
            } else if s.after.iter().any(|g| failed_groups.contains(g)) {
                (
                    Status::Skipped,
                    Some("an item it waits for did not happen".to_owned()),
                )
            } else {
                match self.act(&s.action) {
                    Ok(st) => {
                        if let Some(j) = journal.as_deref_mut() {
                            j.done(i);
                        }
                        if st == Status::Done {
                            self.step();
                        }
                        (st, None)
                    }
                    Err(Failure::Refused(r)) => (Status::Refused, Some(r.to_string())),
                    Err(Failure::Io(e)) => (Status::Failed, Some(e)),
                }
            };
            if !status.ok() {
                failed_groups.insert(s.group);
            }
            out.results.push(OpResult {
                op: s.action.view(),
                status,
                detail,
                group: s.group,
            });
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        out
    }

    fn act(&mut self, a: &Action) -> Result<Status, Failure> {
        match a {
            Action::Remove { target } => {
                let r = resolve(&target.root, &target.rel, false)?;
                if r.now.is_none() {
                    return Ok(Status::AlreadyDone);
                }
                check_seen(target, &r)?;
                unlink(&r, r.name(), AtFlags::empty())?;
                let _ = rustix::fs::fsync(&r.dir);
                Ok(Status::Done)
            }
            Action::RemoveUnreached { target, readers } => {
                let r = resolve(&target.root, &target.rel, false)?;
                if r.now.is_none() {
                    return Ok(Status::AlreadyDone);
                }
                let now = check_seen(target, &r)?;
                if let Some(link) = reaching_link(&readers.path(), (now.dev, now.ino)) {
                    return Err(refused(Refusal::Changed {
                        path: r.path.clone(),
                        what: format!("{} links to it now", link.display()),
                    }));
                }
                unlink(&r, r.name(), AtFlags::empty())?;
                let _ = rustix::fs::fsync(&r.dir);
                Ok(Status::Done)
            }
            Action::RemoveTree { target, contents } => {
                let r = resolve(&target.root, &target.rel, false)?;
                if r.now.is_none() {
                    return Ok(Status::AlreadyDone);
                }
                check_seen(target, &r)?;
                tree::remove_tree(&r.dir, r.name(), &r.path, target.root.dev(), Some(contents))?;
                Ok(Status::Done)
            }
            Action::RemoveEmptyDir { target } => {
                let r = resolve(&target.root, &target.rel, false)?;
                if r.now.is_none() {
                    return Ok(Status::AlreadyDone);
                }
                let now = check_seen(target, &r)?;
                if now.kind != Kind::Dir {
                    return Err(refused(Refusal::Changed {
                        path: r.path.clone(),
                        what: "not a folder".into(),
                    }));
                }
                match rustix::fs::unlinkat(&r.dir, r.name(), AtFlags::REMOVEDIR) {
                    Ok(()) => Ok(Status::Done),
                    Err(Errno::NOTEMPTY | Errno::EXIST) => Ok(Status::Kept),
                    Err(e) => Err(io(&r.path, e)),
                }
            }
            Action::Move { from, to, verify } => self.move_one(from, to, verify),
            Action::Share { target, gid, acl } => {
                let r = resolve(&target.root, &target.rel, false)?;
                let Some(now) = r.now else {
                    return Err(refused(Refusal::Changed {
                        path: r.path.clone(),
                        what: "it is gone".into(),
                    }));
                };
                // Only identity is checked: a folder others write to changes its mtime.
                if let Some(seen) = &target.seen
                    && (seen.kind, seen.dev, seen.ino) != (now.kind, now.dev, now.ino)
                {
                    return Err(refused(Refusal::Changed {
                        path: r.path.clone(),
                        what: "it was replaced".into(),
                    }));
                }
                if now.dev != target.root.dev() {
                    return Err(refused(Refusal::OtherFilesystem {
                        path: r.path.clone(),
                    }));
                }
                Ok(if super::share::share_at(&r, now.ino, *gid, *acl)? {
                    Status::Done
                } else {
                    Status::AlreadyDone
                })
            }
            Action::Symlink { at, link } => {
                let r = resolve(&at.root, &at.rel, true)?;
                if let Some(now) = r.now {
                    let same = now.kind == Kind::Symlink
                        && rustix::fs::readlinkat(&r.dir, r.name(), Vec::new())
                            .is_ok_and(|t| t.as_bytes() == link.as_os_str().as_encoded_bytes());
                    if same {
                        return Ok(Status::AlreadyDone);
                    }
                    return Err(refused(Refusal::Exists {
                        path: r.path.clone(),
                    }));
                }
                rustix::fs::symlinkat(link.as_path(), &r.dir, r.name())
                    .map_err(|e| io(&r.path, e))?;
                let _ = rustix::fs::fsync(&r.dir);
                Ok(Status::Done)
            }
            Action::Link {
                keep,
                copy,
                kind,
                sha256,
            } => self.link_one(keep, copy, *kind, sha256),
            Action::HardLink { keep, at } => {
                let rk = resolve(&keep.root, &keep.rel, false)?;
                let ra = resolve(&at.root, &at.rel, true)?;
                // Only the file the plan saw, wherever it is now (a rename keeps its identity).
                let k = check_seen(keep, &rk)?;
                if let Some(a) = ra.now {
                    if (a.dev, a.ino) == (k.dev, k.ino) {
                        return Ok(Status::AlreadyDone);
                    }
                    return Err(refused(Refusal::Exists {
                        path: ra.path.clone(),
                    }));
                }
                if k.dev != at.root.dev() {
                    return Err(refused(Refusal::OtherFilesystem {
                        path: ra.path.clone(),
                    }));
                }
                rustix::fs::linkat(&rk.dir, rk.name(), &ra.dir, ra.name(), AtFlags::empty())
                    .map_err(|e| io(&ra.path, e))?;
                let _ = rustix::fs::fsync(&ra.dir);
                read_only(&ra.dir, ra.name(), k.ino);
                Ok(Status::Done)
            }
            Action::Check { target, verify } => {
                let r = resolve(&target.root, &target.rel, false)?;
                let now = check_seen(target, &r)?;
                if now.kind != Kind::File {
                    return Err(refused(Refusal::Changed {
                        path: r.path.clone(),
                        what: "not a regular file".into(),
                    }));
                }
                verify_at(&r, verify)?;
                Ok(Status::AlreadyDone)
            }
            Action::Write { target, contents } => {
                let r = resolve(&target.root, &target.rel, true)?;
                let mut owner = None;
                let mode = match r.now {
                    None if target.seen.is_some() => {
                        return Err(refused(Refusal::Changed {
                            path: r.path.clone(),
                            what: "it is gone".into(),
                        }));
                    }
                    None => 0o644,
                    Some(now) => {
                        if now.kind == Kind::File && self.holds(&r, contents) {
                            return Ok(Status::AlreadyDone);
                        }
                        if target.seen.is_none() {
                            return Err(refused(Refusal::Exists {
                                path: r.path.clone(),
                            }));
                        }
                        let now = check_seen(target, &r)?;
                        if now.kind != Kind::File {
                            return Err(refused(Refusal::Changed {
                                path: r.path.clone(),
                                what: "not a regular file".into(),
                            }));
                        }
                        let st = rustix::fs::statat(&r.dir, r.name(), AtFlags::SYMLINK_NOFOLLOW)
                            .map_err(|e| io(&r.path, e))?;
                        // A new file in its place would split it from its other names.
                        if st.st_nlink > 1 {
                            return Err(refused(Refusal::Changed {
                                path: r.path.clone(),
                                what: format!("it has {} hard links", st.st_nlink),
                            }));
                        }
                        owner = Some((st.st_uid, st.st_gid));
                        now.mode
                    }
                };
                write_at(&r.dir, r.name(), contents, mode, owner)
                    .map_err(|e| io(&r.path, format!("{e:#}")))?;
                Ok(Status::Done)
            }
            Action::CreateDir { target } => {
                let r = resolve(&target.root, &target.rel, true)?;
                match r.now {
                    Some(now) if now.kind == Kind::Dir => Ok(Status::AlreadyDone),
                    Some(_) => Err(refused(Refusal::Exists {
                        path: r.path.clone(),
                    })),
                    None => {
                        rustix::fs::mkdirat(
                            &r.dir,
                            r.name(),
                            rustix::fs::Mode::from_raw_mode(0o777),
                        )
                        .map_err(|e| io(&r.path, e))?;
                        Ok(Status::Done)
                    }
                }
            }
        }
    }

    /// Whether the file already holds `contents` (a rerun of a write that happened).
    fn holds(&self, r: &Resolved, contents: &[u8]) -> bool {
        let Ok(fd) = rustix::fs::openat(
            &r.dir,
            r.name(),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        ) else {
            return false;
        };
        let mut f = std::fs::File::from(fd);
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).is_ok() && buf == contents
    }

    fn move_one(&mut self, from: &Target, to: &Target, verify: &Verify) -> Result<Status, Failure> {
        let rf = resolve(&from.root, &from.rel, false)?;
        let rt = resolve(&to.root, &to.rel, true)?;
        if rf.now.is_none() && rt.now.is_some() {
            if rt.now.is_some_and(|n| n.kind == Kind::File) {
                verify_at(&rt, verify)?;
            }
            return Ok(Status::AlreadyDone);
        }
        let now = check_seen(from, &rf)?;
        if rt.now.is_some() {
            // A copy that an interrupted run renamed into place before it removed the source:
            // proven the same, entry by entry, the source goes now.
            let seen = tree::manifest_at(&rf.dir, rf.name(), &rf.path)?;
            if tree::same(&rf.dir, rf.name(), &rt.dir, rt.name(), &rf.path)? {
                self.remove_source(from, &rf, &now, &seen)?;
                return Ok(Status::Done);
            }
            return Err(refused(Refusal::Exists {
                path: rt.path.clone(),
            }));
        }
        // One filesystem: a rename, which cannot change a byte, so nothing is read.
        match rename_noreplace(&rf, &rt, rt.name()) {
            Ok(()) => {
                let _ = rustix::fs::fsync(&rt.dir);
                let _ = rustix::fs::fsync(&rf.dir);
                return Ok(Status::Done);
            }
            Err(Errno::XDEV) => {}
            Err(Errno::EXIST | Errno::NOTEMPTY) => {
                return Err(refused(Refusal::Exists {
                    path: rt.path.clone(),
                }));
            }
            Err(e) => return Err(io(&rt.path, e)),
        }
        // Another filesystem: copy under a temporary name, sync, compare, rename into place,
        // and only then remove the source.
        let tmp = sibling(rt.name(), "partial");
        clear(&rt, &tmp, to.root.dev())?;
        // What is copied is exactly what may go from the source afterwards.
        let seen = tree::manifest_at(&rf.dir, rf.name(), &rf.path)?;
        let copied_ok = if now.kind == Kind::File {
            // The source is hashed while it is copied (one read); the copy is read back once.
            let h = tree::copy_file_hashed(&rf.dir, rf.name(), &rt.dir, &tmp, &rf.path)?;
            self.step();
            let promised = match verify {
                Verify::Name(n) if n.len() == 64 => Some(h == *n),
                Verify::Sha256(want) => Some(h == *want),
                _ => None,
            };
            if promised == Some(false) {
                let _ = clear(&rt, &tmp, to.root.dev());
                return Err(refused(Refusal::ContentDiffers {
                    path: rf.path.clone(),
                }));
            }
            if let Verify::Name(n) = verify
                && n.len() == 40
                && tree::name_matches_at(&rt.dir, &tmp, n, &rf.path)? == Some(false)
            {
                let _ = clear(&rt, &tmp, to.root.dev());
                return Err(refused(Refusal::ContentDiffers {
                    path: rf.path.clone(),
                }));
            }
            tree::sha256_at(&rt.dir, &tmp, &rt.path)? == h
        } else {
            tree::copy(&rf.dir, rf.name(), &rt.dir, &tmp, &rf.path)?;
            self.step();
            tree::same(&rf.dir, rf.name(), &rt.dir, &tmp, &rf.path)?
        };
        if !copied_ok {
            let _ = clear(&rt, &tmp, to.root.dev());
            return Err(Failure::Io(format!(
                "the copy of {} at {} does not match it; the source is kept",
                rf.path.display(),
                rt.path.display()
            )));
        }
        let staged = Resolved {
            dir: rt.dir.try_clone().map_err(|e| io(&rt.path, e))?,
            name: tmp.clone(),
            path: rt.path.with_file_name(&tmp),
            now: None,
        };
        rename_noreplace(&staged, &rt, rt.name()).map_err(|e| io(&rt.path, e))?;
        let _ = rustix::fs::fsync(&rt.dir);
        self.step();
        self.remove_source(from, &rf, &now, &seen)?;
        Ok(Status::Done)
    }

    /// Removes a source proven copied: a file only if it is still the file that was copied, a
    /// folder only with what the copy holds.
    fn remove_source(
        &mut self,
        from: &Target,
        rf: &Resolved,
        now: &Fingerprint,
        seen: &tree::Manifest,
    ) -> Result<(), Failure> {
        if now.kind == Kind::Dir {
            tree::remove_tree(&rf.dir, rf.name(), &rf.path, from.root.dev(), Some(seen))?;
        } else {
            still(rf, rf.name(), now)?;
            unlink(rf, rf.name(), AtFlags::empty())?;
        }
        let _ = rustix::fs::fsync(&rf.dir);
        Ok(())
    }

    fn link_one(
        &mut self,
        keep: &Target,
        copy: &Target,
        kind: LinkKind,
        sha256: &str,
    ) -> Result<Status, Failure> {
        let rk = resolve(&keep.root, &keep.rel, false)?;
        let rc = resolve(&copy.root, &copy.rel, false)?;
        let k = check_seen(keep, &rk)?;
        if let Some(c) = rc.now
            && kind == LinkKind::Hard
            && (c.dev, c.ino) == (k.dev, k.ino)
        {
            return Ok(Status::AlreadyDone);
        }
        let c = check_seen(copy, &rc)?;
        if k.kind != Kind::File || c.kind != Kind::File {
            return Err(refused(Refusal::Changed {
                path: rc.path.clone(),
                what: "not a regular file".into(),
            }));
        }
        if k.dev != c.dev {
            return Err(refused(Refusal::OtherFilesystem {
                path: rc.path.clone(),
            }));
        }
        // Both copies are hashed again right before one of them goes.
        for r in [&rk, &rc] {
            verify_at(r, &Verify::Sha256(sha256.to_owned()))?;
        }
        let tmp = sibling(rc.name(), "link");
        clear(&rc, &tmp, copy.root.dev())?;
        match kind {
            LinkKind::Hard => {
                rustix::fs::linkat(&rk.dir, rk.name(), &rc.dir, &tmp, AtFlags::empty())
                    .map_err(|e| io(&rc.path, e))?
            }
            LinkKind::Reflink => {
                let tmp_path = rc.path.with_file_name(&tmp);
                reflink_copy::reflink(&rk.path, &tmp_path).map_err(|e| {
                    io(
                        &rc.path,
                        format!("{e} (the filesystem may not support reflinks)"),
                    )
                })?;
                let staged = Resolved {
                    dir: rc.dir.try_clone().map_err(|e| io(&rc.path, e))?,
                    name: tmp.clone(),
                    path: tmp_path,
                    now: None,
                };
                if verify_at(&staged, &Verify::Sha256(sha256.to_owned())).is_err() {
                    let _ = unlink(&rc, &tmp, AtFlags::empty());
                    return Err(refused(Refusal::ContentDiffers {
                        path: rk.path.clone(),
                    }));
                }
            }
        }
        // The link must be to the file that was hashed, and the copy about to be replaced must
        // still be the one that was hashed.
        let linked = super::guard::stat_at(&rc.dir, &tmp, &rc.path)?;
        let link_ok = kind == LinkKind::Reflink
            || linked.is_some_and(|l| (l.dev, l.ino) == (k.dev, k.ino) && k.differs(&l).is_none());
        if !link_ok || still(&rk, rk.name(), &k).is_err() || still(&rc, rc.name(), &c).is_err() {
            let _ = unlink(&rc, &tmp, AtFlags::empty());
            return Err(refused(Refusal::Changed {
                path: rc.path.clone(),
                what: "one of the two copies changed while they were hashed".into(),
            }));
        }
        rustix::fs::renameat(&rc.dir, &tmp, &rc.dir, rc.name()).map_err(|e| io(&rc.path, e))?;
        let _ = rustix::fs::fsync(&rc.dir);
        if kind == LinkKind::Hard {
            read_only(&rc.dir, rc.name(), k.ino);
        }
        Ok(Status::Done)
    }
}

/// Takes the write bits off a file that now has several names (a hard link made by dedupe or
/// link_back): a program that rewrites one name in place (`cp` onto it, a save to the same
/// path) would change every name's content, the central blob's too; read-only, it fails
/// instead (for users other than root). Best effort: the link stands either way. Acts on a
/// handle opened without following links and checked to be that file.
fn read_only(dir: &std::os::fd::OwnedFd, name: &OsStr, ino: u64) {
    let Ok(fd) = rustix::fs::openat(
        dir,
        name,
        rustix::fs::OFlags::RDONLY
            | rustix::fs::OFlags::NOFOLLOW
            | rustix::fs::OFlags::NONBLOCK
            | rustix::fs::OFlags::CLOEXEC
            | rustix::fs::OFlags::NOCTTY,
        rustix::fs::Mode::empty(),
    ) else {
        return;
    };
    let Ok(st) = rustix::fs::fstat(&fd) else {
        return;
    };
    if st.st_ino == ino && st.st_mode & 0o222 != 0 {
        let _ = rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(st.st_mode & 0o7555));
    }
}
