//! The journal (a plan is recorded before its first change, and each finished operation is
//! appended, so a run stopped at any point is finished by the next) and the lock that lets
//! one modelenv at a time change the stores.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::plan::Plan;
use super::write::{create_dir_all, remove_file, write_atomic_mode};

#[derive(Serialize, Deserialize)]
struct Record {
    command: String,
    plan: Plan,
}

pub(crate) struct Journal {
    plan_path: PathBuf,
    done_path: PathBuf,
    log: std::fs::File,
}

fn paths(state_dir: &Path, command: &str) -> (PathBuf, PathBuf) {
    let dir = state_dir.join("journal");
    let name: String = command
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    (
        dir.join(format!("{name}.json")),
        dir.join(format!("{name}.done")),
    )
}

fn open_log(p: &Path, truncate: bool) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .create(true)
        .append(!truncate)
        .write(true)
        .truncate(truncate)
        .open(p)
        .with_context(|| format!("opening {}", p.display()))
}

/// An existing lock file, read-only, never through a link and never blocking on a FIFO.
fn open_existing_lock(p: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(p)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(f)
}

fn open_lock(p: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .mode(0o666)
        .create(true)
        .append(true)
        .open(p)
}

impl Journal {
    /// Records `plan` (synced) before anything is changed.
    pub fn begin(state_dir: &Path, command: &str, plan: &Plan) -> Result<Journal> {
        let (plan_path, done_path) = paths(state_dir, command);
        let record = Record {
            command: command.to_owned(),
            plan: plan.clone(),
        };
        create_dir_all(plan_path.parent().unwrap_or(state_dir))?;
        let log = open_log(&done_path, true)?;
        write_atomic_mode(&plan_path, &serde_json::to_vec(&record)?, 0o600)?;
        Ok(Journal {
            plan_path,
            done_path,
            log,
        })
    }

    pub fn reopen(state_dir: &Path, command: &str) -> Result<Journal> {
        let (plan_path, done_path) = paths(state_dir, command);
        let log = open_log(&done_path, false)?;
        Ok(Journal {
            plan_path,
            done_path,
            log,
        })
    }

    /// Notes operation `i` as done. Not synced: an operation whose note is lost is found done
    /// when it is tried again, since every operation recognises its own finished state.
    pub fn done(&mut self, i: usize) {
        let _ = writeln!(self.log, "{i}");
    }

    /// The plan ran to its end: the journal goes.
    pub fn finish(self) -> Result<()> {
        remove_file(&self.plan_path)?;
        remove_file(&self.done_path)
    }
}

/// Plans that were recorded and not finished: (command, plan, operations done).
pub fn interrupted(state_dir: &Path) -> Result<Vec<(String, Plan, HashSet<usize>)>> {
    let dir = state_dir.join("journal");
    crate::fsutil::check_owned(state_dir)?;
    crate::fsutil::check_owned(&dir)?;
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for p in files {
        crate::fsutil::check_owned(&p)?;
        crate::fsutil::check_owned(&p.with_extension("done"))?;
        let text = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        let record: Record = serde_json::from_slice(&text).with_context(|| {
            format!(
                "{} is not a modelenv journal; move it away to go on",
                p.display()
            )
        })?;
        let done = std::fs::read_to_string(p.with_extension("done"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        out.push((record.command, record.plan, done));
    }
    Ok(out)
}

/// One modelenv at a time changes the stores: an exclusive `flock` on
/// `<state>/modelenv.lock`, and on a lock file in each store (see [`StoreLock::store`]), so
/// that two users sharing a store are kept apart too. Held until dropped (the kernel releases
/// it if the process dies).
pub struct StoreLock {
    _files: Vec<std::fs::File>,
    /// The lock files (device, inode) this value took, released from [`HELD`] when dropped.
    ids: Vec<(u64, u64)>,
}

/// The lock files this process holds. A command run from within another (`config set
/// --apply` runs install and migrate) finds its locks already held and goes on under them:
/// a second `flock` through another open file would wait for the process itself.
static HELD: std::sync::Mutex<Vec<(u64, u64)>> = std::sync::Mutex::new(Vec::new());

fn held() -> std::sync::MutexGuard<'static, Vec<(u64, u64)>> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        held().retain(|id| !self.ids.contains(id));
    }
}

impl StoreLock {
    /// Locks `f` (the lock file `p`) unless this process already holds it.
    fn take(&mut self, f: std::fs::File, p: &Path, command: &str) -> Result<()> {
        use std::os::unix::fs::MetadataExt;
        let m = f
            .metadata()
            .with_context(|| format!("reading {}", p.display()))?;
        let id = (m.dev(), m.ino());
        if held().contains(&id) {
            return Ok(());
        }
        try_lock(&f, p, command)?;
        held().push(id);
        self.ids.push(id);
        self._files.push(f);
        Ok(())
    }
}

/// How long a lock held by another process is waited for before the command gives up: a
/// process that was just killed may take a moment to release it.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

fn try_lock(f: &std::fs::File, p: &Path, command: &str) -> Result<()> {
    let start = std::time::Instant::now();
    loop {
        match rustix::fs::flock(f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::WOULDBLOCK) if start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(rustix::io::Errno::WOULDBLOCK) => break,
            Err(e) => bail!(
                "cannot lock {}: {e}; `{command}` changed nothing",
                p.display()
            ),
        }
    }
    bail!(
        "another modelenv is changing the stores (lock {} is held{}); `{command}` changed nothing. Run it again when the other one has finished",
        p.display(),
        holder(p)
    )
}

/// Who holds a lock, as the kernel tells (`/proc/locks`: the process holding an flock on
/// this file's device and inode), with its command line.
pub(super) fn holder(p: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(p) else {
        return String::new();
    };
    let dev = m.dev();
    let id = format!(
        "{:02x}:{:02x}:{}",
        libc::major(dev),
        libc::minor(dev),
        m.ino()
    );
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let pids: Vec<&str> = locks
        .lines()
        .filter(|l| l.contains("FLOCK") && l.split_whitespace().any(|w| w == id))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let at = w.iter().position(|x| *x == id)?;
            at.checked_sub(1).map(|i| w[i])
        })
        .collect();
    let Some(pid) = pids.first() else {
        return String::new();
    };
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split('\0')
                .filter(|a| !a.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    format!(" by process {pid}: {cmd}")
}

impl StoreLock {
    pub fn acquire(state_dir: &Path, command: &str) -> Result<StoreLock> {
        create_dir_all(state_dir)?;
        let p = state_dir.join("modelenv.lock");
        let f = open_log(&p, false)?;
        let mut lock = StoreLock {
            _files: Vec::new(),
            ids: Vec::new(),
        };
        lock.take(f, &p, command)?;
        Ok(lock)
    }

    /// The lock file of a store: in a hub cache `<hub>/.locks/modelenv.lock` (beside
    /// huggingface_hub's own locks; `scan_cache_dir` takes any other entry of the hub for a
    /// broken repo), elsewhere `<store>/.modelenv.lock`.
    pub fn store(store: &Path, hub: bool) -> PathBuf {
        if hub {
            store.join(".locks").join("modelenv.lock")
        } else {
            store.join(".modelenv.lock")
        }
    }

    /// Also locks each existing store folder (`(path, is a hub cache)`). A store this user
    /// cannot create the lock file in is locked through an existing one if there is one (flock
    /// needs no write access); otherwise this user cannot change that store at all, and the
    /// guard refuses there.
    pub fn with_stores(mut self, stores: &[(PathBuf, bool)], command: &str) -> Result<StoreLock> {
        for (s, hub) in stores.iter().filter(|(s, _)| s.is_dir()) {
            let p = StoreLock::store(s, *hub);
            if *hub {
                let locks = s.join(".locks");
                let _ = create_dir_all(&locks);
                // huggingface_hub's lock folder must be a real folder in the store.
                if std::fs::symlink_metadata(&locks).is_ok_and(|m| !m.is_dir()) {
                    continue;
                }
            }
            // Readable by every user (0666 less the umask): another user's modelenv locks it
            // through a read-only handle.
            let f = match open_lock(&p) {
                Ok(f) => f,
                Err(_) => match open_existing_lock(&p) {
                    Ok(f) => f,
                    Err(_) => continue,
                },
            };
            self.take(f, &p, command)?;
        }
        Ok(self)
    }
}
