//! Atomic writes, temporary sibling names and folders: the small pieces every operation uses.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, IntoRawFd};
use std::path::Path;

use anyhow::{Context, Result};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

/// The temporary sibling name of `name` for a given purpose (`partial`, `link`, `tmp`). It is
/// fixed, so a rerun after an interruption finds and replaces what the last run left.
pub(crate) fn sibling(name: &OsStr, purpose: &str) -> OsString {
    let mut s = name.to_os_string();
    s.push(format!(".modelenv-{purpose}"));
    s
}

/// The temporary sibling path of `p` for a purpose: where a plan stages what it puts at `p`.
pub fn sibling_path(p: &Path, purpose: &str) -> std::path::PathBuf {
    p.with_file_name(sibling(p.file_name().unwrap_or_default(), purpose))
}

/// Writes `contents` as `name` in `dir`: a temporary sibling created exclusively (never
/// through a link), given `mode` (and `owner`, the file it replaces keeps its user and group),
/// synced, renamed over `name`, then the folder synced.
pub(crate) fn write_at(
    dir: impl AsFd,
    name: &OsStr,
    contents: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let dir = dir.as_fd();
    let tmp = sibling(name, "tmp");
    let show = || Path::new(name).display().to_string();
    match rustix::fs::unlinkat(dir, &tmp, rustix::fs::AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => {
            return Err(e).with_context(|| format!("removing a stale temporary of {}", show()));
        }
    }
    let fd = rustix::fs::openat(
        dir,
        &tmp,
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
    .with_context(|| format!("creating a temporary file for {}", show()))?;
    let kept = match owner {
        Some((uid, gid)) => {
            let st = rustix::fs::fstat(&fd).with_context(|| format!("inspecting {}", show()))?;
            if (st.st_uid, st.st_gid) == (uid, gid) {
                Ok(())
            } else {
                let (u, g) = (
                    rustix::fs::Uid::from_raw(uid),
                    rustix::fs::Gid::from_raw(gid),
                );
                rustix::fs::fchown(&fd, Some(u), Some(g))
            }
        }
        None => Ok(()),
    }
    .and_then(|()| rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)));
    if let Err(e) = kept {
        let _ = rustix::fs::unlinkat(dir, &tmp, rustix::fs::AtFlags::empty());
        return Err(e).with_context(|| {
            format!(
                "giving the new {} the owner and mode of the old one",
                show()
            )
        });
    }
    // SAFETY: `fd` is an owned, open file descriptor whose ownership moves into the File.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd.into_raw_fd()) };
    let written = f.write_all(contents).and_then(|()| f.sync_all());
    if let Err(e) = written {
        let _ = rustix::fs::unlinkat(dir, &tmp, rustix::fs::AtFlags::empty());
        return Err(e).with_context(|| format!("writing {}", show()));
    }
    rustix::fs::renameat(dir, &tmp, dir, name).with_context(|| format!("replacing {}", show()))?;
    let _ = rustix::fs::fsync(dir);
    Ok(())
}

/// Writes one of modelenv's own files (config, state, caches) atomically, keeping its mode;
/// creates missing parent folders. For the user's files, plan a [`super::Plan::write`].
pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    let mode = std::fs::metadata(path)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
        .unwrap_or(0o644);
    write_atomic_mode(path, contents, mode)
}

/// [`write_atomic`] with this mode (the journal, which may hold the user's dotfiles, is 0600).
pub(crate) fn write_atomic_mode(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent folder", path.display()))?;
    let name = path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?;
    create_dir_all(dir)?;
    let fd = rustix::fs::open(
        dir,
        OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::RDONLY,
        Mode::empty(),
    )
    .with_context(|| format!("opening {}", dir.display()))?;
    write_at(&fd, name, contents, mode, None).with_context(|| format!("writing {}", path.display()))
}

/// Removes one of modelenv's own files and syncs its folder; a missing file is fine.
pub fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates a folder and its parents.
pub fn create_dir_all(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_write_keeps_mode_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_atomic(&p, b"a").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_atomic(&p, b"b").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "b");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("f")]);
    }

    #[test]
    fn a_link_planted_at_the_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("f.modelenv-tmp")).unwrap();
        write_atomic(&dir.path().join("f"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("f")).unwrap(),
            "new"
        );
    }
}
