//! Whole folders through directory handles: removed without following a link or leaving the
//! filesystem, copied and compared entry by entry.

use std::ffi::{CStr, OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::guard::{Failure, Fingerprint, Refusal};
use super::hash;

thread_local! {
    /// Bytes of file data read by operations on this thread (hashing and copying), for reports.
    static BYTES_READ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn count(n: u64) {
    BYTES_READ.with(|b| b.set(b.get() + n));
}

/// Bytes of file data this thread's operations (and planners' reads through
/// [`planner_sha256`] / [`planner_name_matches`]) have read so far.
pub fn bytes_read() -> u64 {
    BYTES_READ.with(|b| b.get())
}

/// For planners: the sha256 of the regular file at `p` (a link is an error, not followed),
/// counted in [`bytes_read`].
pub fn planner_sha256(p: &Path) -> std::io::Result<String> {
    let f = open_nofollow(p)?;
    let len = f.metadata()?.len();
    count(len);
    hash::sha256_reader(f, len)
}

/// For planners: whether the regular file at `p` holds what the blob name `promised` says
/// (sha256 or git sha1; `None` for a name that promises nothing), counted in [`bytes_read`].
pub fn planner_name_matches(p: &Path, promised: &str) -> std::io::Result<Option<bool>> {
    let f = open_nofollow(p)?;
    let len = f.metadata()?.len();
    let got = match promised.len() {
        64 => hash::sha256_reader(&f, len)?,
        40 => hash::git_sha1_reader(&f, len)?,
        _ => return Ok(None),
    };
    count(len);
    Ok(Some(got == promised))
}

/// Opens a regular file for reading: never through a link, never blocking on a FIFO.
fn open_nofollow(p: &Path) -> std::io::Result<std::fs::File> {
    let fd = rustix::fs::open(
        p,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let f = std::fs::File::from(fd);
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file",
            p.display()
        )));
    }
    Ok(f)
}

const DIR_FLAGS: OFlags = OFlags::DIRECTORY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::RDONLY);

fn open_dir(dir: impl AsFd, name: &OsStr, path: &Path) -> Result<OwnedFd, Failure> {
    rustix::fs::openat(dir, name, DIR_FLAGS, Mode::empty()).map_err(|e| Failure::io(path, e))
}

/// The names in a folder, without `.` and `..`.
fn entries(dir: &OwnedFd, path: &Path) -> Result<Vec<OsString>, Failure> {
    let mut d = rustix::fs::Dir::read_from(dir).map_err(|e| Failure::io(path, e))?;
    let mut out = Vec::new();
    while let Some(e) = d.read() {
        let e = e.map_err(|e| Failure::io(path, e))?;
        let n: &CStr = e.file_name();
        let b = n.to_bytes();
        if b != b"." && b != b".." {
            out.push(OsStr::from_bytes(b).to_os_string());
        }
    }
    out.sort();
    Ok(out)
}

/// What a plan saw inside a folder it removes: each entry's path below the folder and its
/// fingerprint. Anything else found there when the removal runs was not seen, so it stays.
pub(crate) type Manifest = BTreeMap<PathBuf, Fingerprint>;

/// Reads the manifest of the folder `p` (links are entries, never followed).
pub(crate) fn manifest_of(p: &Path) -> Result<Manifest, Refusal> {
    let mut m = Manifest::new();
    for e in walkdir::WalkDir::new(p)
        .min_depth(1)
        .follow_links(false)
        .follow_root_links(false)
        .into_iter()
        .flatten()
    {
        let fp = Fingerprint::of(e.path()).map_err(|_| Refusal::SpecialFile {
            path: e.path().to_path_buf(),
        })?;
        if let Ok(rel) = e.path().strip_prefix(p) {
            m.insert(rel.to_path_buf(), fp);
        }
    }
    Ok(m)
}

/// What is at `name` now, refused if it is on another filesystem, a special file, or (with a
/// manifest) not an entry the plan saw as it is now.
fn checked_entry(
    dir: &OwnedFd,
    name: &OsStr,
    path: &Path,
    rel: &Path,
    dev: u64,
    expect: Option<&Manifest>,
) -> Result<Fingerprint, Failure> {
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| Failure::io(path, e))?;
    let now = Fingerprint::from_stat(&st, path)?;
    if st.st_dev != dev {
        return Err(Refusal::OtherFilesystem {
            path: path.to_path_buf(),
        }
        .into());
    }
    if let Some(m) = expect
        && !rel.as_os_str().is_empty()
    {
        let what = match m.get(rel) {
            None => Some("it appeared after the plan".to_owned()),
            Some(seen) => seen.differs(&now),
        };
        if let Some(what) = what {
            return Err(Refusal::Changed {
                path: path.to_path_buf(),
                what,
            }
            .into());
        }
    }
    Ok(now)
}

/// Checks that everything below `name` can be removed: one filesystem, no special file, and
/// (with a manifest) nothing the plan did not see or that changed since.
fn check_tree(
    dir: &OwnedFd,
    name: &OsStr,
    path: &Path,
    rel: &Path,
    dev: u64,
    expect: Option<&Manifest>,
) -> Result<(), Failure> {
    if checked_entry(dir, name, path, rel, dev, expect)?.kind == super::guard::Kind::Dir {
        let sub = open_dir(dir, name, path)?;
        for n in entries(&sub, path)? {
            check_tree(&sub, &n, &path.join(&n), &rel.join(&n), dev, expect)?;
        }
    }
    Ok(())
}

/// Deletes what [`check_tree`] accepted, checking every entry again as it goes: what appeared
/// or changed since the first pass stays (and so does its folder).
pub(crate) fn remove_checked(
    dir: &OwnedFd,
    name: &OsStr,
    path: &Path,
    rel: &Path,
    dev: u64,
    expect: Option<&Manifest>,
) -> Result<(), Failure> {
    if checked_entry(dir, name, path, rel, dev, expect)?.kind == super::guard::Kind::Dir {
        let sub = open_dir(dir, name, path)?;
        for n in entries(&sub, path)? {
            remove_checked(&sub, &n, &path.join(&n), &rel.join(&n), dev, expect)?;
        }
        rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(|e| Failure::io(path, e))
    } else {
        rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(|e| Failure::io(path, e))
    }
}

/// Removes `name` in `dir` and everything below it, after checking all of it first (against
/// `expect`, what the plan saw, when there is one).
pub(crate) fn remove_tree(
    dir: &OwnedFd,
    name: &OsStr,
    path: &Path,
    dev: u64,
    expect: Option<&Manifest>,
) -> Result<(), Failure> {
    check_tree(dir, name, path, Path::new(""), dev, expect)?;
    remove_checked(dir, name, path, Path::new(""), dev, expect)?;
    let _ = rustix::fs::fsync(dir);
    Ok(())
}

/// The manifest of `name` in `dir`, read through handles (for a folder about to be copied).
pub(crate) fn manifest_at(dir: &OwnedFd, name: &OsStr, path: &Path) -> Result<Manifest, Failure> {
    fn walk(dir: &OwnedFd, path: &Path, rel: &Path, m: &mut Manifest) -> Result<(), Failure> {
        for n in entries(dir, path)? {
            let p = path.join(&n);
            let st = rustix::fs::statat(dir, &n, AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| Failure::io(&p, e))?;
            let fp = Fingerprint::from_stat(&st, &p)?;
            m.insert(rel.join(&n), fp);
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                let sub = open_dir(dir, &n, &p)?;
                walk(&sub, &p, &rel.join(&n), m)?;
            }
        }
        Ok(())
    }
    let mut m = Manifest::new();
    if let Ok(sub) = open_dir(dir, name, path) {
        walk(&sub, path, Path::new(""), &mut m)?;
    }
    Ok(m)
}

fn open_read(dir: impl AsFd, name: &OsStr, path: &Path) -> Result<std::fs::File, Failure> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Failure::io(path, e))?;
    // SAFETY: `fd` is an owned, open file descriptor whose ownership moves into the File.
    Ok(unsafe { std::fs::File::from_raw_fd(fd.into_raw_fd()) })
}

/// sha256 of the regular file `name` in `dir` (a link there is an error, not followed).
pub(crate) fn sha256_at(dir: impl AsFd, name: &OsStr, path: &Path) -> Result<String, Failure> {
    let f = open_read(dir, name, path)?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    count(len);
    hash::sha256_reader(f, len).map_err(|e| Failure::io(path, e))
}

/// Whether the file's content is what its blob name promises (`None`: the name promises
/// nothing).
pub(crate) fn name_matches_at(
    dir: impl AsFd,
    name: &OsStr,
    promised: &str,
    path: &Path,
) -> Result<Option<bool>, Failure> {
    let f = open_read(dir, name, path)?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    count(len);
    let got = match promised.len() {
        64 => hash::sha256_reader(f, len),
        40 => hash::git_sha1_reader(f, len),
        _ => return Ok(None),
    };
    got.map(|h| Some(h == promised))
        .map_err(|e| Failure::io(path, e))
}

/// Copies the regular file `name` of `src` to the new name `to` in `dst`, synced, and returns
/// the sha256 of the bytes read: one pass over the source.
pub(crate) fn copy_file_hashed(
    src: &OwnedFd,
    name: &OsStr,
    dst: &OwnedFd,
    to: &OsStr,
    path: &Path,
) -> Result<String, Failure> {
    use sha2::Digest;
    let mut from = open_read(src, name, path)?;
    let mode = from.metadata().map(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o7777
    });
    let fd = rustix::fs::openat(
        dst,
        to,
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode.unwrap_or(0o644)),
    )
    .map_err(|e| Failure::io(path, e))?;
    // SAFETY: `fd` is an owned, open file descriptor whose ownership moves into the File.
    let mut out = unsafe { std::fs::File::from_raw_fd(fd.into_raw_fd()) };
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = from.read(&mut buf).map_err(|e| Failure::io(path, e))?;
        if n == 0 {
            break;
        }
        count(n as u64);
        h.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| Failure::io(path, e))?;
    }
    keep_mtime(&from, &out);
    out.sync_all().map_err(|e| Failure::io(path, e))?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Gives a copy its original's modification time, as a rename would keep it (huggingface_hub
/// trusts a `--local-dir` file's download metadata by its mtime). Best effort.
fn keep_mtime(from: &std::fs::File, to: &std::fs::File) {
    if let Ok(m) = from.metadata().and_then(|m| m.modified()) {
        let _ = to.set_modified(m);
    }
}

/// Copies the file, folder or link `name` of `src` to the new name `to` in `dst`: files
/// synced, links as links. Returns the bytes copied.
pub(crate) fn copy(
    src: &OwnedFd,
    name: &OsStr,
    dst: &OwnedFd,
    to: &OsStr,
    path: &Path,
) -> Result<u64, Failure> {
    let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| Failure::io(path, e))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => {
            let mut from = open_read(src, name, path)?;
            let fd = rustix::fs::openat(
                dst,
                to,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(st.st_mode & 0o7777),
            )
            .map_err(|e| Failure::io(path, e))?;
            // SAFETY: `fd` is an owned, open file descriptor whose ownership moves into the File.
            let mut out = unsafe { std::fs::File::from_raw_fd(fd.into_raw_fd()) };
            let mut buf = vec![0u8; 1 << 20];
            let mut n_total = 0;
            loop {
                let n = from.read(&mut buf).map_err(|e| Failure::io(path, e))?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n]).map_err(|e| Failure::io(path, e))?;
                count(n as u64);
                n_total += n as u64;
            }
            keep_mtime(&from, &out);
            out.sync_all().map_err(|e| Failure::io(path, e))?;
            Ok(n_total)
        }
        FileType::Symlink => {
            let target =
                rustix::fs::readlinkat(src, name, Vec::new()).map_err(|e| Failure::io(path, e))?;
            rustix::fs::symlinkat(target.as_c_str(), dst, to).map_err(|e| Failure::io(path, e))?;
            Ok(0)
        }
        FileType::Directory => {
            rustix::fs::mkdirat(dst, to, Mode::from_raw_mode(st.st_mode & 0o7777))
                .map_err(|e| Failure::io(path, e))?;
            let s = open_dir(src, name, path)?;
            let d = open_dir(dst, to, path)?;
            let mut bytes = 0;
            for n in entries(&s, path)? {
                bytes += copy(&s, &n, &d, &n, &path.join(&n))?;
            }
            let _ = rustix::fs::fsync(&d);
            Ok(bytes)
        }
        _ => Err(Refusal::SpecialFile {
            path: path.to_path_buf(),
        }
        .into()),
    }
}

/// Whether `b` in `bdir` holds exactly what `a` in `adir` holds: the same entries, every
/// file's sha256, every link's target.
pub(crate) fn same(
    adir: &OwnedFd,
    a: &OsStr,
    bdir: &OwnedFd,
    b: &OsStr,
    path: &Path,
) -> Result<bool, Failure> {
    let ta =
        rustix::fs::statat(adir, a, AtFlags::SYMLINK_NOFOLLOW).map_err(|e| Failure::io(path, e))?;
    let Ok(tb) = rustix::fs::statat(bdir, b, AtFlags::SYMLINK_NOFOLLOW) else {
        return Ok(false);
    };
    let (fa, fb) = (
        FileType::from_raw_mode(ta.st_mode),
        FileType::from_raw_mode(tb.st_mode),
    );
    if fa != fb {
        return Ok(false);
    }
    match fa {
        FileType::RegularFile => {
            Ok(ta.st_size == tb.st_size && sha256_at(adir, a, path)? == sha256_at(bdir, b, path)?)
        }
        FileType::Symlink => {
            let la =
                rustix::fs::readlinkat(adir, a, Vec::new()).map_err(|e| Failure::io(path, e))?;
            let lb =
                rustix::fs::readlinkat(bdir, b, Vec::new()).map_err(|e| Failure::io(path, e))?;
            Ok(la == lb)
        }
        FileType::Directory => {
            let da = open_dir(adir, a, path)?;
            let db = open_dir(bdir, b, path)?;
            let (ea, eb) = (entries(&da, path)?, entries(&db, path)?);
            if ea != eb {
                return Ok(false);
            }
            for n in ea {
                if !same(&da, &n, &db, &n, &path.join(&n))? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        _ => Err(Refusal::SpecialFile {
            path: path.to_path_buf(),
        }
        .into()),
    }
}
