//! Downloads other programs may be writing right now: huggingface_hub's `.incomplete` blobs
//! (with a lock file per blob), Ollama's `-partial` files. modelenv never removes or moves one
//! that is young or whose lock is held.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Unfinished downloads and unreferenced blobs are kept this long, in every store (Ollama's
/// own rule): a download may be writing them, or a migrate may be about to link them.
pub const GRACE_SECS: f64 = 3_600.0;

/// Seconds since `p` last changed: its content (mtime) or its name (ctime: a copy restored
/// by rsync or tar keeps an old mtime but arrives with a new ctime). `mtime_only` is the
/// test hook that lets tests age files with `utimes`. A file that cannot be read is young.
pub fn age_secs(p: &Path, mtime_only: bool) -> f64 {
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return 0.0;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let changed = if mtime_only {
        m.mtime() as f64
    } else {
        (m.mtime() as f64).max(m.ctime() as f64)
    };
    now - changed
}

/// Whether someone holds a `flock` on this lock file now (opening it reads only; a lock file
/// that does not exist is not held).
pub fn lock_held(lock: &Path) -> bool {
    let Ok(f) = std::fs::File::open(lock) else {
        return false;
    };
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let _ = rustix::fs::flock(&f, rustix::fs::FlockOperation::Unlock);
            false
        }
        Err(_) => true,
    }
}

/// Whether huggingface_hub's lock for this `.incomplete` blob of the hub cache `hub` is held:
/// `<hub>/.locks/<repo folder>/<etag>.lock`, where `<etag>` is the blob name up to its first
/// dot (`<etag>.incomplete`, or `<etag>.<8 hex>.incomplete` since 2.4).
pub fn hf_lock_held(hub: &Path, incomplete: &Path) -> bool {
    let (Some(name), Some(repo)) = (
        incomplete.file_name().and_then(|n| n.to_str()),
        incomplete
            .parent()
            .and_then(Path::parent)
            .and_then(Path::file_name),
    ) else {
        return false;
    };
    let etag = name.split('.').next().unwrap_or(name);
    lock_held(&hub.join(".locks").join(repo).join(format!("{etag}.lock")))
}

/// Why the unfinished download `incomplete` in the hub cache `hub` may be in progress, if it
/// may: changed within the grace period, or its lock held.
pub fn hf_in_progress(hub: &Path, incomplete: &Path, mtime_only: bool) -> Option<&'static str> {
    if hf_lock_held(hub, incomplete) {
        Some("its download lock is held: a download is writing it")
    } else if age_secs(incomplete, mtime_only) < GRACE_SECS {
        Some("changed less than an hour ago (a download may be writing it)")
    } else {
        None
    }
}
