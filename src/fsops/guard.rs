//! Roots by identity, what the plan saw of a file, and the resolution that never leaves a root.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

/// Why the guard would not act. Each one leaves the disk as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The path is not beneath the root the operation was planned under.
    OutsideRoot { path: PathBuf, root: PathBuf },
    /// A symlink stands where the path needs a real folder: following it could leave the root.
    LinkEscapes { path: PathBuf },
    /// The path is on another filesystem than its root (a mount inside a store).
    OtherFilesystem { path: PathBuf },
    /// A FIFO, socket or device: never ours to touch.
    SpecialFile { path: PathBuf },
    /// The file or its root is not what the plan saw.
    Changed { path: PathBuf, what: String },
    /// The content does not have the hash the plan relies on.
    ContentDiffers { path: PathBuf },
    /// A file is in the way of one the plan creates.
    Exists { path: PathBuf },
    /// A file in a folder the plan would remove that no earlier step moved out or proved
    /// present elsewhere.
    Unaccounted { path: PathBuf },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::OutsideRoot { path, root } => write!(
                f,
                "{} is not inside {}; refusing to touch it",
                path.display(),
                root.display()
            ),
            Refusal::LinkEscapes { path } => write!(
                f,
                "{} goes through a symbolic link; refusing to follow it",
                path.display()
            ),
            Refusal::OtherFilesystem { path } => write!(
                f,
                "{} is on another filesystem than its store; refusing to touch it",
                path.display()
            ),
            Refusal::SpecialFile { path } => write!(
                f,
                "{} is not a regular file, folder or link; refusing to touch it",
                path.display()
            ),
            Refusal::Changed { path, what } => {
                write!(
                    f,
                    "{} changed since the plan ({what}); left as it is",
                    path.display()
                )
            }
            Refusal::ContentDiffers { path } => write!(
                f,
                "{} does not hold the content the plan expects; left as it is",
                path.display()
            ),
            Refusal::Exists { path } => {
                write!(f, "{} already exists; left as it is", path.display())
            }
            Refusal::Unaccounted { path } => write!(
                f,
                "{} was neither moved nor proven present elsewhere; the folder holding it is kept",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Refusal {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    File,
    Dir,
    Symlink,
}

/// What the planner saw of a file: enough to notice that it was replaced or rewritten since.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub(crate) kind: Kind,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) mode: u32,
}

impl Fingerprint {
    pub(crate) fn from_stat(st: &Stat, path: &Path) -> Result<Fingerprint, Refusal> {
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => {
                return Err(Refusal::SpecialFile {
                    path: path.to_path_buf(),
                });
            }
        };
        Ok(Fingerprint {
            kind,
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            #[allow(clippy::useless_conversion)] // i32 on some platforms
            mtime_ns: i64::from(st.st_mtime).saturating_mul(1_000_000_000)
                + st.st_mtime_nsec as i64,
            mode: st.st_mode & 0o7777,
        })
    }

    /// Reads a path's fingerprint without following a final link.
    pub fn of(path: &Path) -> std::io::Result<Fingerprint> {
        let st = rustix::fs::lstat(path)?;
        Fingerprint::from_stat(&st, path).map_err(std::io::Error::other)
    }

    /// What differs, if anything. A folder is known by its identity alone: its size and mtime
    /// change whenever an entry is added or removed, including by the plan itself.
    pub(crate) fn differs(&self, now: &Fingerprint) -> Option<String> {
        if self.kind != now.kind {
            return Some(format!("was a {:?}, now a {:?}", self.kind, now.kind).to_lowercase());
        }
        if (self.dev, self.ino) != (now.dev, now.ino) {
            return Some("replaced by another file".into());
        }
        if self.kind == Kind::Dir {
            return None;
        }
        if self.size != now.size {
            return Some(format!("size {} is now {}", self.size, now.size));
        }
        if self.mtime_ns != now.mtime_ns {
            return Some("modified".into());
        }
        None
    }
}

/// A folder operations must stay under, known by its device and inode.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Root {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Root {
    /// An existing folder; its path is made canonical so that later checks compare identities.
    pub fn open(path: &Path) -> std::io::Result<Root> {
        let path = std::fs::canonicalize(path)?;
        let m = std::fs::metadata(&path)?;
        if !m.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a folder", path.display()),
            ));
        }
        Ok(Root {
            path,
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when `other` is this very folder (same device and inode).
    pub fn is(&self, other: &Root) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }

    /// `p` as a path beneath this root, found by identity: the nearest existing ancestor of
    /// `p`'s folder is resolved and its ancestors are compared with the root by device and
    /// inode. The last component is never followed. `None`: not beneath the root.
    pub fn beneath(&self, p: &Path) -> Option<PathBuf> {
        let name = match p.components().next_back()? {
            Component::Normal(n) => n.to_os_string(),
            _ => return None,
        };
        let parent = p.parent()?;
        let mut missing: Vec<OsString> = Vec::new();
        let mut existing = parent;
        while std::fs::symlink_metadata(existing).is_err() {
            match existing.components().next_back()? {
                Component::Normal(n) => missing.push(n.to_os_string()),
                _ => return None,
            }
            existing = existing.parent()?;
        }
        let canon = std::fs::canonicalize(existing).ok()?;
        for anc in canon.ancestors() {
            let Ok(m) = std::fs::metadata(anc) else {
                continue;
            };
            if (m.dev(), m.ino()) == (self.dev, self.ino) {
                let mut rel = canon.strip_prefix(anc).ok()?.to_path_buf();
                for n in missing.iter().rev() {
                    rel.push(n);
                }
                rel.push(name);
                return Some(rel);
            }
        }
        None
    }

    /// Opens the root and checks it is still the folder the plan saw.
    pub(crate) fn open_checked(&self) -> Result<OwnedFd, Failure> {
        let fd = rustix::fs::open(
            &self.path,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::LOOP | Errno::NOTDIR => Failure::Refused(Refusal::LinkEscapes {
                path: self.path.clone(),
            }),
            e => Failure::io(&self.path, e),
        })?;
        let st = rustix::fs::fstat(&fd).map_err(|e| Failure::io(&self.path, e))?;
        if (st.st_dev, st.st_ino) != (self.dev, self.ino) {
            return Err(Failure::Refused(Refusal::Changed {
                path: self.path.clone(),
                what: "the folder was replaced".into(),
            }));
        }
        Ok(fd)
    }

    pub(crate) fn dev(&self) -> u64 {
        self.dev
    }
}

/// The store roots a command may act in; a path belongs to the first that holds it.
#[derive(Default)]
pub struct Roots {
    roots: Vec<Root>,
}

impl Roots {
    /// Opens each folder that exists (missing ones hold nothing to act on).
    pub fn new<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Roots {
        Roots {
            roots: paths
                .into_iter()
                .filter_map(|p| Root::open(p.as_ref()).ok())
                .collect(),
        }
    }

    /// The root that holds `p`, by identity.
    pub fn holding(&self, p: &Path) -> Option<&Root> {
        self.roots.iter().find(|r| r.beneath(p).is_some())
    }
}

/// An operation that did not happen: refused by the guard, or failed doing it.
#[derive(Debug)]
pub enum Failure {
    Refused(Refusal),
    Io(String),
}

impl Failure {
    pub(crate) fn io(path: &Path, e: impl fmt::Display) -> Failure {
        Failure::Io(format!("{}: {e}", path.display()))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused(r) => write!(f, "{r}"),
            Failure::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Failure {
        Failure::Refused(r)
    }
}

/// A path resolved beneath its root: the handle of its folder, its name, and what is there now.
pub(crate) struct Resolved {
    pub dir: OwnedFd,
    pub name: OsString,
    pub path: PathBuf,
    pub now: Option<Fingerprint>,
}

impl Resolved {
    pub fn name(&self) -> &OsStr {
        &self.name
    }
}

/// Walks `rel` beneath `root` one component at a time with `O_NOFOLLOW`: a symlink or a
/// different filesystem anywhere on the way is a refusal. With `create`, missing folders on
/// the way are made (mode 0777 less the umask), still beneath the root.
pub(crate) fn resolve(root: &Root, rel: &Path, create: bool) -> Result<Resolved, Failure> {
    let path = root.path.join(rel);
    let mut comps: Vec<&OsStr> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => comps.push(n),
            _ => {
                return Err(Refusal::OutsideRoot {
                    path,
                    root: root.path.clone(),
                }
                .into());
            }
        }
    }
    let Some(name) = comps.pop() else {
        return Err(Refusal::OutsideRoot {
            path,
            root: root.path.clone(),
        }
        .into());
    };
    let mut dir = root.open_checked()?;
    let mut walked = root.path.clone();
    for c in comps {
        walked.push(c);
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::RDONLY;
        let next = match rustix::fs::openat(&dir, c, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => {
                match rustix::fs::mkdirat(&dir, c, Mode::from_raw_mode(0o777)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(Failure::io(&walked, e)),
                }
                rustix::fs::openat(&dir, c, flags, Mode::empty())
                    .map_err(|e| Failure::io(&walked, e))?
            }
            Err(Errno::LOOP | Errno::NOTDIR) => {
                return Err(Refusal::LinkEscapes { path: walked }.into());
            }
            Err(e) => return Err(Failure::io(&walked, e)),
        };
        let st = rustix::fs::fstat(&next).map_err(|e| Failure::io(&walked, e))?;
        if st.st_dev != root.dev {
            return Err(Refusal::OtherFilesystem { path: walked }.into());
        }
        dir = next;
    }
    let now = stat_at(&dir, name, &path)?;
    Ok(Resolved {
        dir,
        name: name.to_os_string(),
        path,
        now,
    })
}

/// What is at `name` in `dir` now (a final link is not followed); `None` when nothing is.
pub(crate) fn stat_at(
    dir: impl AsFd,
    name: &OsStr,
    path: &Path,
) -> Result<Option<Fingerprint>, Failure> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(Fingerprint::from_stat(&st, path)?)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(Failure::io(path, e)),
    }
}
