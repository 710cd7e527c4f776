//! What the readers of a store still reach, computed over the whole store: the proof a
//! deletion needs. A blob may go only if no snapshot of any repo (through any link, compared
//! by device and inode) and no Ollama manifest (read as text, so a manifest modelenv cannot
//! parse still counts) reaches it. When any part of the store cannot be read, the answer is
//! an error and nothing in that store is deleted.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A physical file: (device, inode).
pub type Identity = (u64, u64);

pub fn identity(p: &Path) -> Option<Identity> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// Every file a snapshot of any repo in the hub cache `hub` reaches, following links, except
/// the snapshot folders in `skip` (those a plan removes). `Err`: a part could not be read.
pub fn hub_snapshots(hub: &Path, skip: &HashSet<PathBuf>) -> Result<HashSet<Identity>, String> {
    let mut out = HashSet::new();
    let repos = match std::fs::read_dir(hub) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("{}: {e}", hub.display())),
    };
    for repo in repos {
        let repo = repo.map_err(|e| format!("{}: {e}", hub.display()))?.path();
        let snaps = repo.join("snapshots");
        if !snaps.is_dir() {
            continue;
        }
        let revisions =
            std::fs::read_dir(&snaps).map_err(|e| format!("{}: {e}", snaps.display()))?;
        for rev in revisions {
            let rev = rev.map_err(|e| format!("{}: {e}", snaps.display()))?.path();
            if skip.contains(&rev) {
                continue;
            }
            for e in walkdir::WalkDir::new(&rev).follow_links(false) {
                let e = e.map_err(|e| format!("{}: {e}", rev.display()))?;
                if e.file_type().is_dir() {
                    continue;
                }
                match std::fs::metadata(e.path()) {
                    Ok(m) => {
                        out.insert((m.dev(), m.ino()));
                    }
                    // A link to nothing reaches nothing.
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(format!("{}: {err}", e.path().display())),
                }
            }
        }
    }
    Ok(out)
}

/// The text of every Ollama manifest under `root/manifests` (links followed), except `skip`.
pub fn ollama_manifests(root: &Path, skip: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let dir = root.join("manifests");
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for e in walkdir::WalkDir::new(&dir).follow_links(true) {
        let e = e.map_err(|e| format!("{}: {e}", dir.display()))?;
        if e.file_type().is_dir() || e.path() == skip {
            continue;
        }
        let text = super::fastfs::read_small_path(e.path())
            .map_err(|err| format!("{}: {err}", e.path().display()))?;
        out.push((e.path().to_path_buf(), text));
    }
    Ok(out)
}

/// The manifest that names the Ollama blob file `blob` (`sha256-<hex>` names digest
/// `sha256:<hex>`), if one does.
pub fn ollama_user<'a>(manifests: &'a [(PathBuf, Vec<u8>)], blob: &Path) -> Option<&'a Path> {
    let name = blob.file_name()?.to_str()?;
    let digest = name.replacen('-', ":", 1);
    manifests
        .iter()
        .find(|(_, text)| text.windows(digest.len()).any(|w| w == digest.as_bytes()))
        .map(|(p, _)| p.as_path())
}
