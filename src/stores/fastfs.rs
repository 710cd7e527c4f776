//! Directory walking relative to open folder handles (`openat`, `fstatat`, `readlinkat`):
//! the kernel resolves one name per call instead of a whole path, which is what keeps a scan
//! of thousands of repos close to `du`.

use std::ffi::{CStr, OsStr, OsString};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};

use super::{FileInfo, NameHash, Time};

/// The kind of a directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

pub struct Entry {
    pub name: OsString,
    pub kind: Kind,
}

fn kind_of(t: FileType) -> Option<Kind> {
    match t {
        FileType::Directory => Some(Kind::Dir),
        FileType::RegularFile => Some(Kind::File),
        FileType::Symlink => Some(Kind::Symlink),
        FileType::Unknown => None,
        _ => Some(Kind::Other),
    }
}

fn io_err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// An open folder: entries are listed and names inside it are resolved through its handle.
pub struct OpenDir {
    dir: Dir,
}

impl OpenDir {
    /// Opens a folder (following a symlink to it, as an archived repo is).
    pub fn open(path: &Path) -> io::Result<OpenDir> {
        let fd = rustix::fs::openat(
            rustix::fs::CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        Self::from_fd(fd)
    }

    fn from_fd(fd: OwnedFd) -> io::Result<OpenDir> {
        Ok(OpenDir {
            dir: Dir::new(fd).map_err(io_err)?,
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.dir.fd().expect("a Dir always has its descriptor")
    }

    /// Opens the folder `name` inside this one.
    pub fn sub(&self, name: &OsStr) -> io::Result<OpenDir> {
        let fd = rustix::fs::openat(
            self.fd(),
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?;
        Self::from_fd(fd)
    }

    /// The entries, without `.` and `..`.
    pub fn entries(&mut self) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        let mut unknown = Vec::new();
        while let Some(e) = self.dir.read() {
            let e = e.map_err(io_err)?;
            let name = e.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let name = OsString::from_vec(name.to_vec());
            match kind_of(e.file_type()) {
                Some(kind) => out.push(Entry { name, kind }),
                None => unknown.push(name),
            }
        }
        // Some filesystems do not say what an entry is; ask.
        for name in unknown {
            let kind = match self.stat(&name, false) {
                Ok(st) => kind_of(FileType::from_raw_mode(st.st_mode)).unwrap_or(Kind::Other),
                Err(_) => Kind::Other,
            };
            out.push(Entry { name, kind });
        }
        Ok(out)
    }

    /// `fstatat`, following symlinks or not.
    pub fn stat(&self, name: &OsStr, follow: bool) -> io::Result<Stat> {
        let flags = if follow {
            AtFlags::empty()
        } else {
            AtFlags::SYMLINK_NOFOLLOW
        };
        rustix::fs::statat(self.fd(), name, flags).map_err(io_err)
    }

    /// The folder's own status.
    pub fn stat_self(&self) -> io::Result<Stat> {
        rustix::fs::fstat(self.fd()).map_err(io_err)
    }

    pub fn readlink(&self, name: &OsStr) -> io::Result<PathBuf> {
        let c = rustix::fs::readlinkat(self.fd(), name, Vec::new()).map_err(io_err)?;
        Ok(PathBuf::from(OsStr::from_bytes(CStr::to_bytes(&c))))
    }

    /// Reads a small file inside the folder (a ref, a manifest): links are followed as the
    /// libraries follow them, but only a regular file is read, never a FIFO or device, and
    /// never more than `MAX_SMALL` bytes.
    pub fn read(&self, name: &OsStr) -> io::Result<Vec<u8>> {
        let fd = rustix::fs::openat(
            self.fd(),
            name,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(io_err)?;
        read_small(fd)
    }
}

/// The most a ref or manifest may hold; anything larger is not one.
pub const MAX_SMALL: usize = 1 << 20;

/// Reads an open file that must be regular and at most [`MAX_SMALL`] bytes.
pub fn read_small(fd: rustix::fd::OwnedFd) -> io::Result<Vec<u8>> {
    let st = rustix::fs::fstat(&fd).map_err(io_err)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file; not read",
        ));
    }
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = rustix::io::read(&fd, &mut chunk).map_err(io_err)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() > MAX_SMALL {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("larger than {MAX_SMALL} bytes; not read"),
            ));
        }
    }
}

/// Reads a small file by path under the same rules as [`OpenDir::read`].
pub fn read_small_path(path: &std::path::Path) -> io::Result<Vec<u8>> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(io_err)?;
    read_small(fd)
}

pub fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

impl FileInfo {
    pub fn from_stat(path: PathBuf, st: &Stat, name_hash: Option<NameHash>) -> FileInfo {
        FileInfo {
            path,
            size: st.st_size as u64,
            dev: st.st_dev,
            ino: st.st_ino,
            mtime: st.st_mtime as f64 + st.st_mtime_nsec as f64 / 1e9,
            atime: st.st_atime as f64 + st.st_atime_nsec as f64 / 1e9,
            name_hash,
            // nlink_t is u64 on x86_64 Linux, u32 on aarch64 Linux, u16 on macOS.
            #[allow(clippy::unnecessary_cast)]
            nlink: st.st_nlink as u64,
        }
    }
}

impl Time {
    pub fn of_stat(st: &Stat) -> (Time, Time) {
        (
            Time(st.st_mtime as f64 + st.st_mtime_nsec as f64 / 1e9),
            Time(st.st_atime as f64 + st.st_atime_nsec as f64 / 1e9),
        )
    }
}

/// Every regular file below an open folder, depth first; symlinks are not followed.
pub fn files_below(
    mut dir: OpenDir,
    path: &Path,
    out: &mut Vec<FileInfo>,
    errors: &mut Vec<String>,
) {
    let list = match dir.entries() {
        Ok(l) => l,
        Err(e) => {
            errors.push(format!("{}: {e}", path.display()));
            return;
        }
    };
    for e in list {
        match e.kind {
            Kind::File => match dir.stat(&e.name, false) {
                Ok(st) => out.push(FileInfo::from_stat(path.join(&e.name), &st, None)),
                Err(err) => errors.push(format!("{}: {err}", path.join(&e.name).display())),
            },
            Kind::Dir => match dir.sub(&e.name) {
                Ok(d) => files_below(d, &path.join(&e.name), out, errors),
                Err(err) => errors.push(format!("{}: {err}", path.join(&e.name).display())),
            },
            _ => {}
        }
    }
}
