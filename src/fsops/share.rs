//! Group sharing of a store: group ownership, group permission bits, the setgid bit on
//! folders and a default POSIX ACL, so that files any member creates there stay usable by
//! every other member whatever their umask.

use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::guard::{Failure, Kind, Refusal, Resolved};

/// The extended attribute holding a folder's default ACL (what new entries inherit).
const DEFAULT_ACL: &str = "system.posix_acl_default";

/// Linux's `posix_acl_xattr` encoding: a version, then (tag, perm, id) entries sorted by tag.
fn acl_bytes(entries: &[(u16, u16, u32)]) -> Vec<u8> {
    let mut out = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        out.extend(tag.to_le_bytes());
        out.extend(perm.to_le_bytes());
        out.extend(id.to_le_bytes());
    }
    out
}

/// The default ACL that lets the group `gid` read and write everything created below:
/// owner rwx, owning group rwx, group `gid` rwx, mask rwx, others r-x.
pub(crate) fn default_acl(gid: u32) -> Vec<u8> {
    const UNDEFINED: u32 = u32::MAX;
    acl_bytes(&[
        (0x01, 7, UNDEFINED), // ACL_USER_OBJ
        (0x04, 7, UNDEFINED), // ACL_GROUP_OBJ
        (0x08, 7, gid),       // ACL_GROUP
        (0x10, 7, UNDEFINED), // ACL_MASK
        (0x20, 5, UNDEFINED), // ACL_OTHER
    ])
}

/// Whether the filesystem holding the folder `dir` stores POSIX ACLs (read only).
pub fn acl_supported(dir: &std::path::Path) -> bool {
    let mut buf = [0u8; 256];
    match rustix::fs::getxattr(dir, DEFAULT_ACL, &mut buf) {
        Ok(_) | Err(Errno::NODATA) | Err(Errno::RANGE) => true,
        Err(_) => false,
    }
}

/// For planners: whether the folder or file at `p` (with metadata `m`) still needs sharing
/// with `gid` (read only).
pub fn needs_share(p: &std::path::Path, m: &std::fs::Metadata, gid: u32, acl: bool) -> bool {
    use std::os::unix::fs::MetadataExt;
    let kind = if m.is_dir() { Kind::Dir } else { Kind::File };
    if m.gid() != gid || m.mode() & 0o7777 != wanted_mode(kind, m.mode()) {
        return true;
    }
    if acl && kind == Kind::Dir {
        let mut buf = vec![0u8; 512];
        let have = rustix::fs::getxattr(p, DEFAULT_ACL, &mut buf)
            .map(|n| buf[..n].to_vec())
            .unwrap_or_default();
        return have != default_acl(gid);
    }
    false
}

/// The permission bits a member of the group needs on an entry: folders rwx plus setgid (new
/// entries take the folder's group), files rw (and x where the owner has x).
pub(crate) fn wanted_mode(kind: Kind, mode: u32) -> u32 {
    let mode = mode & 0o7777;
    match kind {
        Kind::Dir => mode | 0o2070,
        _ if mode & 0o100 != 0 => mode | 0o070,
        _ => mode | 0o060,
    }
}

/// Gives the entry resolved at `r` (a folder or a regular file, never a link) to group `gid`
/// with the group bits it needs and, for a folder, the default ACL. Acts on a handle opened
/// without following links and checked to be the entry the plan saw. `Ok(false)`: nothing
/// needed changing.
pub(crate) fn share_at(r: &Resolved, ino: u64, gid: u32, acl: bool) -> Result<bool, Failure> {
    let now = r.now.as_ref().ok_or_else(|| Refusal::Changed {
        path: r.path.clone(),
        what: "it is gone".into(),
    })?;
    let flags = match now.kind {
        Kind::Dir => OFlags::DIRECTORY | OFlags::RDONLY,
        Kind::File => OFlags::RDONLY | OFlags::NONBLOCK,
        Kind::Symlink => return Ok(false), // a link has no permissions of its own
    } | OFlags::NOFOLLOW
        | OFlags::CLOEXEC
        | OFlags::NOCTTY;
    let fd: OwnedFd = rustix::fs::openat(&r.dir, r.name(), flags, Mode::empty())
        .map_err(|e| Failure::io(&r.path, e))?;
    let st = rustix::fs::fstat(&fd).map_err(|e| Failure::io(&r.path, e))?;
    if st.st_ino != ino {
        return Err(Refusal::Changed {
            path: r.path.clone(),
            what: "it was replaced".into(),
        }
        .into());
    }
    let mut changed = false;
    if st.st_gid != gid {
        rustix::fs::fchown(&fd, None, Some(rustix::fs::Gid::from_raw(gid)))
            .map_err(|e| Failure::io(&r.path, e))?;
        changed = true;
    }
    // Changing the group may clear the setgid bit: the mode is read again.
    let st = rustix::fs::fstat(&fd).map_err(|e| Failure::io(&r.path, e))?;
    let want = wanted_mode(now.kind, st.st_mode);
    if st.st_mode & 0o7777 != want {
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(want)).map_err(|e| Failure::io(&r.path, e))?;
        changed = true;
    }
    if acl && now.kind == Kind::Dir {
        let want = default_acl(gid);
        let mut buf = vec![0u8; 512];
        let have = rustix::fs::fgetxattr(&fd, DEFAULT_ACL, &mut buf)
            .map(|n| buf[..n].to_vec())
            .unwrap_or_default();
        if have != want {
            rustix::fs::fsetxattr(&fd, DEFAULT_ACL, &want, rustix::fs::XattrFlags::empty())
                .map_err(|e| Failure::io(&r.path, e))?;
            changed = true;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_encoding_is_linux_posix_acl_xattr() {
        let b = default_acl(1234);
        assert_eq!(b.len(), 4 + 5 * 8);
        assert_eq!(&b[..4], &[2, 0, 0, 0]);
        // The named group entry: tag 8, perm 7, id 1234.
        assert_eq!(&b[4 + 2 * 8..4 + 3 * 8], &[8, 0, 7, 0, 0xd2, 0x04, 0, 0]);
    }

    #[test]
    fn wanted_modes() {
        assert_eq!(wanted_mode(Kind::Dir, 0o40755), 0o2775);
        assert_eq!(wanted_mode(Kind::File, 0o100644), 0o664);
        assert_eq!(wanted_mode(Kind::File, 0o100755), 0o775);
    }
}
