//! `modelenv share init DIR --group G`: a store every member of G can read, download into
//! and prune, whatever their umask. Dry run by default; idempotent.

use std::ffi::CString;
use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::cli::ShareInitArgs;
use crate::cmd::Exit;
use crate::fsops::share::{acl_supported, needs_share};
use crate::fsops::{OpView, Plan, Root, Run, Status};
use crate::settings::Settings;

use super::show;

/// The group's id, from its name or number.
fn group_id(group: &str) -> Result<u32> {
    if let Ok(gid) = group.parse::<u32>() {
        return Ok(gid);
    }
    let name = CString::new(group).context("a group name cannot hold a NUL byte")?;
    // SAFETY: getgrnam returns NULL or a pointer to a static record read at once.
    let gr = unsafe { libc::getgrnam(name.as_ptr()) };
    if gr.is_null() {
        bail!("no group named {group:?} on this machine (create it with `groupadd {group}`)");
    }
    // SAFETY: non-null, just returned by getgrnam.
    Ok(unsafe { (*gr).gr_gid })
}

/// Whether this process may give files to `gid`: root, or a member of it.
fn may_use_group(gid: u32) -> bool {
    // SAFETY: plain syscalls filling a buffer of the size passed.
    unsafe {
        if libc::geteuid() == 0 || libc::getegid() == gid {
            return true;
        }
        let n = libc::getgroups(0, std::ptr::null_mut());
        let mut groups = vec![0 as libc::gid_t; n.max(0) as usize];
        let n = libc::getgroups(n, groups.as_mut_ptr());
        groups.truncate(n.max(0) as usize);
        groups.contains(&gid)
    }
}

#[derive(Serialize)]
struct Report {
    dir: PathBuf,
    group: String,
    gid: u32,
    /// Whether the filesystem keeps default ACLs (without them, every user needs umask 002).
    acl: bool,
    applied: bool,
    /// Entries that need a change (none: the store is already shared).
    changes: usize,
    /// Entries left alone, each with the reason (another filesystem, a link).
    skipped: Vec<String>,
    operations: Vec<OpView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failed: Vec<String>,
}

pub fn init(settings: &Settings, args: &ShareInitArgs) -> Result<Exit> {
    let gid = group_id(&args.group)?;
    if !may_use_group(gid) {
        bail!(
            "you are not a member of the group {}: only root or a member can give files to it (`sudo modelenv share init …`, or `usermod -aG {} $USER` and log in again)",
            args.group,
            args.group
        );
    }
    let dir = settings.absolute(&args.dir);
    let dir = match std::fs::canonicalize(&dir) {
        Ok(real) if real.is_dir() => real,
        Ok(_) => bail!("{} is not a folder", dir.display()),
        Err(_) if !dir.exists() && std::fs::symlink_metadata(&dir).is_err() => dir,
        Err(e) => bail!("cannot read {}: {e}", dir.display()),
    };
    let parent = dir
        .parent()
        .filter(|p| p.is_dir())
        .with_context(|| format!("the folder holding {} must exist", dir.display()))?;
    let root = Root::open(parent)?;
    let acl = acl_supported(if dir.exists() { &dir } else { parent });

    // The plan: the store folder (created if missing), then everything below it on its own
    // filesystem that is not shared yet. Links are never followed.
    let mut plan = Plan::new();
    let mut skipped = Vec::new();
    let dev = std::fs::metadata(parent)?.dev();
    if !dir.exists() {
        plan.create_dir(&root, &dir)?;
        plan.share(&root, &dir, gid, acl)?;
    } else {
        for e in walkdir::WalkDir::new(&dir).follow_links(false) {
            let e = match e {
                Ok(e) => e,
                Err(err) => {
                    skipped.push(format!("{err}"));
                    continue;
                }
            };
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.file_type().is_symlink() {
                continue; // a link has no permissions of its own; what it points to is not ours
            }
            if m.dev() != dev {
                skipped.push(format!(
                    "{}: on another filesystem, left alone",
                    e.path().display()
                ));
                continue;
            }
            if !(m.is_dir() || m.is_file()) {
                skipped.push(format!("{}: not a file or folder", e.path().display()));
                continue;
            }
            if needs_share(e.path(), &m, gid, acl) {
                plan.share(&root, e.path(), gid, acl)?;
            }
        }
    }
    let mut report = Report {
        dir: dir.clone(),
        group: args.group.clone(),
        gid,
        acl,
        applied: false,
        changes: plan.len(),
        skipped,
        operations: plan.views(),
        failed: Vec::new(),
    };
    let mut exit = Exit::Ok;
    if args.apply && !plan.is_empty() {
        let _changes = super::begin_changes(settings, "share init")?;
        let outcome = Run::new(&settings.state_dir, "share init", settings.test_kill_after)
            .with_progress(std::io::stderr().is_terminal())
            .execute(&plan)?;
        report.applied = true;
        for r in &outcome.results {
            if matches!(r.status, Status::Refused | Status::Failed) {
                report.failed.push(format!(
                    "{}: {}",
                    r.op.path.display(),
                    r.detail.clone().unwrap_or_default()
                ));
            }
        }
        if !report.failed.is_empty() {
            exit = Exit::Problems;
        }
    } else if args.apply {
        report.applied = true;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(settings, &report);
    }
    Ok(exit)
}

fn print_human(settings: &Settings, r: &Report) {
    let store = show(settings, &r.dir);
    match (r.changes, r.applied) {
        (0, _) => println!("{store} is already shared with the group {}", r.group),
        (n, false) => println!(
            "dry run: {n} folder(s) and file(s) of {store} would be given to the group {} (group owner, group read/write, setgid folders{})",
            r.group,
            if r.acl { ", a default ACL" } else { "" }
        ),
        (n, true) => println!(
            "{} of {n} folder(s) and file(s) of {store} given to the group {}",
            n - r.failed.len(),
            r.group
        ),
    }
    for s in &r.skipped {
        crate::ui::warn(s);
    }
    for f in &r.failed {
        crate::ui::warn(f);
    }
    if !r.acl {
        crate::ui::warn(format!(
            "this filesystem keeps no POSIX ACLs: files a user creates follow that user's umask, so every user of {store} needs `umask 002` (for example in /etc/profile.d/)"
        ));
    }
    if r.changes > 0 && !r.applied {
        println!("run again with --apply to change them");
    }
}
