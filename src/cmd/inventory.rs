//! Reading the stores for a command: a progress spinner on a terminal when the walk is slow,
//! warnings to stderr, and the filesystems the stores live on.

use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::settings::Settings;
use crate::stores::{self, Inventory, Locations, StoreKind};
use crate::ui;

/// Reads the stores, showing a spinner on stderr if that takes over a second on a terminal.
pub fn read(settings: &Settings, dirs: &[PathBuf], only: &[StoreKind]) -> Inventory {
    // `./a` and `a/../b` printed as the folder they name; a link is kept as given.
    let dirs: Vec<PathBuf> = dirs
        .iter()
        .map(|d| {
            std::fs::canonicalize(settings.absolute(d)).unwrap_or_else(|_| settings.absolute(d))
        })
        .collect();
    let loc = Locations::from_settings(settings, dirs);
    let done = Arc::new(AtomicBool::new(false));
    let spinner = std::io::stderr().is_terminal().then(|| {
        let done = done.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            if done.load(Ordering::Relaxed) {
                return;
            }
            let pb = indicatif::ProgressBar::new_spinner();
            pb.set_message("reading model stores…");
            pb.enable_steady_tick(Duration::from_millis(100));
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            pb.finish_and_clear();
        })
    });
    let inv = stores::collect(&loc, only);
    done.store(true, Ordering::Relaxed);
    if let Some(h) = spinner {
        let _ = h.join();
    }
    for w in &inv.warnings {
        ui::warn(w);
    }
    inv
}

#[derive(Debug, Serialize, Clone)]
pub struct Filesystem {
    /// The mount point holding the stores below.
    pub mount: PathBuf,
    pub stores: Vec<StoreKind>,
    pub total_bytes: u64,
    pub free_bytes: u64,
    pub headroom_bytes: u64,
    /// Free space above the headroom (negative: that much below it).
    pub headroom_left_bytes: i64,
}

/// The nearest existing folder at or above `p`.
fn existing_ancestor(p: &Path) -> Option<&Path> {
    p.ancestors().find(|a| a.exists())
}

/// Where the filesystem holding `p` is mounted: the topmost ancestor on the same device.
fn mount_point(p: &Path) -> PathBuf {
    let Ok(dev) = std::fs::metadata(p).map(|m| m.dev()) else {
        return p.to_path_buf();
    };
    let mut mount = p.to_path_buf();
    for a in p.ancestors().skip(1) {
        match std::fs::metadata(a) {
            Ok(m) if m.dev() == dev => mount = a.to_path_buf(),
            _ => break,
        }
    }
    mount
}

/// Free space on each filesystem the stores live on.
pub fn filesystems(settings: &Settings, inv: &Inventory) -> Vec<Filesystem> {
    let mut out: Vec<Filesystem> = Vec::new();
    for s in &inv.stores {
        let Some(at) = existing_ancestor(&s.path) else {
            continue;
        };
        let Ok(vfs) = rustix::fs::statvfs(at) else {
            continue;
        };
        let mount = mount_point(&at.canonicalize().unwrap_or_else(|_| at.to_path_buf()));
        if let Some(fs) = out.iter_mut().find(|f| f.mount == mount) {
            if !fs.stores.contains(&s.store) {
                fs.stores.push(s.store);
            }
            continue;
        }
        let free = vfs.f_bavail * vfs.f_frsize;
        let total = vfs.f_blocks * vfs.f_frsize;
        let headroom = settings.headroom_for(total);
        out.push(Filesystem {
            mount,
            stores: vec![s.store],
            total_bytes: total,
            free_bytes: free,
            headroom_bytes: headroom,
            headroom_left_bytes: free as i64 - headroom as i64,
        });
    }
    out
}

/// Duplicate content among `files`, with the hash cache unless `use_cache` is off; read
/// problems go to stderr and into `inv_warnings`.
pub fn duplicates(
    settings: &Settings,
    files: impl IntoIterator<Item = crate::stores::FileInfo>,
    use_cache: bool,
    inv_warnings: &mut Vec<String>,
) -> Vec<crate::stores::dupes::DupGroup> {
    use crate::stores::dupes::{self, HashCache};
    let cache = HashCache::load(use_cache.then(|| settings.cache_dir.join("hashes.json")));
    let warnings = crate::stores::Warnings::default();
    let groups = dupes::find(files, &cache, &warnings);
    cache.save();
    for w in warnings.into_vec() {
        ui::warn(&w);
        inv_warnings.push(w);
    }
    groups
}
