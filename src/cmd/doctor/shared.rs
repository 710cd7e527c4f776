//! The doctor for a store shared by several users: can this user lock, add a blob and add a
//! repo folder there; which entries other users cannot write (and whose they are); setgid and
//! default ACLs; the filesystem and whether `flock` works on it.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{Check, Status};
use crate::settings::Settings;

/// The user name of a uid, else the number.
fn user_name(uid: u32) -> String {
    // SAFETY: getpwuid returns NULL or a pointer to a static record, read at once.
    unsafe {
        let pw = libc::getpwuid(uid);
        if pw.is_null() {
            return uid.to_string();
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

fn writable(p: &Path) -> bool {
    use rustix::fs::{Access, AtFlags, CWD};
    rustix::fs::accessat(CWD, p, Access::WRITE_OK | Access::EXEC_OK, AtFlags::EACCESS).is_ok()
}

fn has_default_acl(p: &Path) -> bool {
    let mut buf = [0u8; 256];
    rustix::fs::getxattr(p, "system.posix_acl_default", &mut buf).is_ok_and(|n| n > 4)
}

/// The filesystem type's name, from statfs.
fn fs_type(p: &Path) -> String {
    let Ok(s) = rustix::fs::statfs(p) else {
        return "unknown".into();
    };
    match s.f_type as u64 {
        0xEF53 => "ext4".into(),
        0x5846_5342 => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x0102_1994 => "tmpfs".into(),
        0x6969 => "nfs".into(),
        0xFF53_4D42 | 0xFE53_4D42 => "cifs/smb".into(),
        0x0BD0_0BD0 => "lustre".into(),
        0x4750_4653 => "gpfs".into(),
        0x6573_5546 => "fuse".into(),
        0x794C_7630 => "overlay".into(),
        0x2FC1_2FC1 => "zfs".into(),
        t => format!("type {t:#x}"),
    }
}

/// Whether the store is shared: another user owns it, or it is set up for a group.
fn is_shared(store: &Path) -> bool {
    let Ok(m) = std::fs::metadata(store) else {
        return false;
    };
    // SAFETY: a plain syscall without arguments.
    let me = unsafe { libc::geteuid() };
    m.uid() != me || m.mode() & 0o2020 != 0 || has_default_acl(store)
}

/// A store of this user's own that hides the machine's system store (`install --system`).
fn shadow(settings: &Settings) -> Option<Check> {
    let cfg = crate::config::Config::load(&settings.system_config_path).ok()?;
    let raw = cfg.get_str("hf_home").ok()??;
    let system = crate::settings::expand_path(&raw, &settings.home);
    if crate::fsutil::resolve_existing(&system)
        == crate::fsutil::resolve_existing(&settings.hf_home)
    {
        return None;
    }
    let fix = match settings.hf_home_source {
        crate::settings::Source::Config => format!(
            "to share it, remove `hf_home` from {} and run `modelenv install` again",
            settings.config_path.display()
        ),
        crate::settings::Source::Environment | crate::settings::Source::LoginShell => {
            "to share it, remove the HF_HOME export that sets it (the doctor's shell checks name the line)".to_owned()
        }
        _ => "to share it, drop --hf-home".to_owned(),
    };
    Some(
        Check::new(
            "shared.shadow",
            Status::Warn,
            format!(
                "your HF_HOME {} ({}) hides this machine's shared store {} ({}): what you download is not shared",
                settings.hf_home.display(),
                settings.hf_home_source.describe(),
                system.display(),
                settings.system_config_path.display()
            ),
        )
        .hint(fix)
        .path(&settings.hf_home),
    )
}

pub fn checks(settings: &Settings) -> Vec<Check> {
    let store = &settings.hf_home;
    let mut out: Vec<Check> = shadow(settings).into_iter().collect();
    if !is_shared(store) {
        return out;
    }
    let hub = settings.hub_cache();
    let kind = fs_type(store);
    let network = matches!(
        kind.as_str(),
        "nfs" | "cifs/smb" | "lustre" | "gpfs" | "fuse"
    );
    out.push(
        Check::new(
            "shared.filesystem",
            if network { Status::Warn } else { Status::Pass },
            format!(
                "{} is a shared store on {kind}{}",
                store.display(),
                if network {
                    ": huggingface_hub's locks rely on flock, which network filesystems may not provide across machines"
                } else {
                    ""
                }
            ),
        )
        .path(store),
    );

    // Where this user would need to write to lock, add a blob or add a repo folder.
    let mut dirs: Vec<PathBuf> = vec![hub.clone(), hub.join(".locks")];
    let mut all_dirs = Vec::new();
    for e in walkdir::WalkDir::new(&hub)
        .max_depth(3)
        .follow_links(false)
        .into_iter()
        .flatten()
    {
        if e.file_type().is_dir() {
            all_dirs.push(e.path().to_path_buf());
        }
    }
    dirs.extend(all_dirs.iter().cloned());
    dirs.sort();
    dirs.dedup();
    let denied: Vec<&PathBuf> = dirs.iter().filter(|d| d.exists() && !writable(d)).collect();
    // Owners of what this user cannot write, and entries the group cannot write.
    let mut by_owner: BTreeMap<String, Vec<&PathBuf>> = BTreeMap::new();
    for d in &denied {
        if let Ok(m) = std::fs::metadata(d) {
            by_owner.entry(user_name(m.uid())).or_default().push(d);
        }
    }
    if denied.is_empty() {
        out.push(Check::new(
            "shared.access",
            Status::Pass,
            "this user can take locks, add blobs and add repo folders in the shared hub cache",
        ));
    } else {
        for (owner, ds) in &by_owner {
            out.push(
                Check::new(
                    "shared.access",
                    Status::Fail,
                    format!(
                        "{} folder(s) owned by {owner} are not writable by this user (a download into them fails with PermissionError), for example {}",
                        ds.len(),
                        ds[0].display()
                    ),
                )
                .path(ds[0])
                .hint(format!(
                    "the store's owner or root runs `modelenv share init {} --group <group> --apply`",
                    store.display()
                )),
            );
        }
    }
    // Lock files other members could not take: not group-writable, or not the store's group.
    let store_gid = std::fs::metadata(store)
        .map(|m| m.gid())
        .unwrap_or(u32::MAX);
    let mut locked_out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in walkdir::WalkDir::new(hub.join(".locks"))
        .follow_links(false)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
    {
        if let Ok(m) = e.metadata()
            && (m.mode() & 0o020 == 0 || m.gid() != store_gid)
        {
            locked_out
                .entry(user_name(m.uid()))
                .or_default()
                .push(e.path().to_path_buf());
        }
    }
    for (owner, fs) in &locked_out {
        out.push(
            Check::new(
                "shared.permissions",
                Status::Warn,
                format!(
                    "{} lock file(s) of {owner} are not writable by the store's group, for example {}",
                    fs.len(),
                    fs[0].display()
                ),
            )
            .path(&fs[0])
            .hint(format!(
                "`modelenv share init {} --group <group> --apply` repairs them",
                store.display()
            )),
        );
    }
    let no_setgid: Vec<&PathBuf> = all_dirs
        .iter()
        .filter(|d| std::fs::metadata(d).is_ok_and(|m| m.mode() & 0o2000 == 0))
        .collect();
    if let Some(first) = no_setgid.first() {
        out.push(
            Check::new(
                "shared.setgid",
                Status::Warn,
                format!(
                    "{} folder(s) lack the setgid bit, so what is created in them takes its creator's group, for example {}",
                    no_setgid.len(),
                    first.display()
                ),
            )
            .path(first)
            .hint(format!(
                "`modelenv share init {} --group <group> --apply`",
                store.display()
            )),
        );
    }
    if crate::fsops::share::acl_supported(store) && !has_default_acl(&hub) && hub.exists() {
        out.push(
            Check::new(
                "shared.acl",
                Status::Warn,
                "the hub cache has no default ACL: files each user creates follow that user's umask (022 leaves them read-only to the others)",
            )
            .path(&hub)
            .hint(format!(
                "`modelenv share init {} --group <group> --apply`, or `umask 002` for every user",
                store.display()
            )),
        );
    }
    out
}
