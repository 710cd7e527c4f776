//! Reading the files modelenv edits: links followed to the real file, writability checked
//! before any change is planned. (Changes themselves are `fsops`' alone.)

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Reads a UTF-8 file; `None` when it does not exist. Anything but a regular file (a FIFO,
/// a device, a socket) is refused without being opened, and the file is opened so that it
/// could never block (`O_NONBLOCK`) and checked again once open.
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    use rustix::fs::{FileType, Mode, OFlags};
    let not_regular = || {
        anyhow::anyhow!(
            "{} is not a regular file (a FIFO, socket or device); refusing to read or edit it",
            path.display()
        )
    };
    match fs::metadata(path) {
        Ok(m) if !m.is_file() => return Err(not_regular()),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let fd = match rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let st = rustix::fs::fstat(&fd).with_context(|| format!("reading {}", path.display()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut fs::File::from(fd), &mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| anyhow::anyhow!("{} is not valid UTF-8; refusing to edit it", path.display()))
}

/// Follows a chain of symlinks to the file that really holds the content, so editing it keeps
/// the user's links (stow, chezmoi) intact. A dangling link resolves to its final target.
pub fn resolve_link(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current)
                    .with_context(|| format!("reading link {}", current.display()))?;
                current = if target.is_absolute() {
                    target
                } else {
                    current.parent().unwrap_or(Path::new("/")).join(target)
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e).with_context(|| format!("inspecting {}", current.display())),
        }
    }
    bail!("{}: too many levels of symbolic links", path.display())
}

/// Refuses modelenv's own state (journal, undo record, archive record) unless it belongs to
/// the user running modelenv and no other user may write it: a record another user could
/// forge would make modelenv act for them (root with a user's HOME, a HOME in /tmp).
/// A missing path is fine.
pub fn check_owned(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // Through links: what counts is who owns what the link leads to.
    let Ok(m) = fs::metadata(path) else {
        return Ok(());
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if m.uid() != me || m.mode() & 0o002 != 0 {
        bail!(
            "{} belongs to uid {} (mode {:o}), not to you (uid {me}); refusing to act on a record another user could have written. Check it, then remove it or fix its owner",
            path.display(),
            m.uid(),
            m.mode() & 0o7777
        );
    }
    Ok(())
}

/// Refuses files the user (or a tool like home-manager) made read-only, even as root, and
/// files or folders this process cannot write.
pub fn check_writable(path: &Path) -> Result<()> {
    match fs::metadata(path) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o222 == 0 {
                bail!(
                    "{} is read-only (mode {:o}); it may be managed by another tool such as \
                     Nix/home-manager. Add the lines yourself (see `modelenv init`) or make it writable",
                    path.display(),
                    meta.permissions().mode() & 0o7777
                );
            }
            access_w(path)?;
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("inspecting {}", path.display())),
    }
    // The rename needs a writable folder; find the nearest existing ancestor.
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.exists() {
            return access_w(d);
        }
        dir = d.parent();
    }
    Ok(())
}

/// Refuses a file that replacing by a new one would take from the user: one with other hard
/// links (a dotfiles copy it would split from), or one owned by another user when this
/// process cannot give the new file that owner. A missing file is fine.
pub fn check_replaceable(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !m.is_file() {
        bail!(
            "{} is not a regular file; refusing to edit it. Add the lines yourself (see `modelenv init`)",
            path.display()
        );
    }
    if m.nlink() > 1 {
        bail!(
            "{} has {} hard links (a dotfiles copy?); replacing it would split it from them. Make it a symbolic link to the copy (modelenv edits the copy then) or add the lines yourself (see `modelenv init`)",
            path.display(),
            m.nlink()
        );
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if m.uid() != me && me != 0 {
        bail!(
            "{} belongs to uid {}, not to you (uid {me}); the new file would be yours. Run modelenv as its owner, or add the lines yourself (see `modelenv init`)",
            path.display(),
            m.uid()
        );
    }
    Ok(())
}

fn access_w(path: &Path) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes()).context("path contains a NUL byte")?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let rc = unsafe { libc::access(c.as_ptr(), libc::W_OK) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        bail!("{} is not writable: {err}", path.display());
    }
    Ok(())
}

/// `p` with its deepest existing folder resolved (links and `..` followed there) and the rest
/// kept as text: the identity of a location that may not exist yet.
pub fn resolve_existing(p: &Path) -> std::path::PathBuf {
    let p = crate::settings::normalize(p);
    if !p.is_absolute() {
        return p;
    }
    for anc in p.ancestors() {
        if let Ok(real) = anc.canonicalize() {
            let rest = p.strip_prefix(anc).unwrap_or(Path::new(""));
            return real.join(rest);
        }
    }
    p
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // fixtures are made by hand
mod tests {
    use super::*;

    #[test]
    fn resolve_link_follows_chains() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles/bashrc");
        fs::create_dir_all(real.parent().unwrap()).unwrap();
        fs::write(&real, "x").unwrap();
        std::os::unix::fs::symlink("dotfiles/bashrc", dir.path().join("l1")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("l1"), dir.path().join("l2")).unwrap();
        assert_eq!(
            resolve_link(&dir.path().join("l2")).unwrap(),
            dir.path().join("dotfiles/bashrc")
        );
    }

    #[test]
    fn read_only_file_is_refused_even_for_root() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rc");
        fs::write(&p, "x").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o444)).unwrap();
        let err = check_writable(&p).unwrap_err().to_string();
        assert!(err.contains("read-only"), "{err}");
    }
}
