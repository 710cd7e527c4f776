//! Content stored more than once, found without reading data where names already say what a
//! file holds: HF LFS blobs and Ollama blobs are named by the sha256 of their content, so the
//! same GGUF in both is found by name and confirmed by size. Other files are grouped by size
//! first and only files that could match are hashed (sha256, so results compare with those
//! names). Hard links to one inode are one copy.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::PathBuf;
use std::sync::Mutex;

use rayon::prelude::*;
use serde::Serialize;

use super::{FileInfo, NameHash, Warnings};
pub use crate::fsops::hash::sha256_file;

#[derive(Clone, Debug, Serialize)]
pub struct DupGroup {
    /// `sha256:<hex>` (or `git-sha1:<hex>` for small HF files only ever seen by that name).
    pub content: String,
    pub size: u64,
    /// One path per physical copy.
    pub copies: Vec<PathBuf>,
    /// Bytes freed if one copy were kept: (copies - 1) × size.
    pub wasted_bytes: u64,
}

/// Hashes remembered by (device, inode, size, mtime), so a second run reads nothing again.
#[derive(Default)]
pub struct HashCache {
    path: Option<PathBuf>,
    map: Mutex<HashMap<String, String>>,
    dirty: Mutex<bool>,
}

impl HashCache {
    pub fn load(path: Option<PathBuf>) -> HashCache {
        let map = path
            .as_ref()
            .and_then(|p| fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        HashCache {
            path,
            map: Mutex::new(map),
            dirty: Mutex::new(false),
        }
    }

    fn key(f: &FileInfo) -> String {
        format!("{}:{}:{}:{}", f.dev, f.ino, f.size, f.mtime)
    }

    pub fn sha256(&self, f: &FileInfo) -> std::io::Result<String> {
        let key = Self::key(f);
        if let Some(h) = self.map.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(h.clone());
        }
        let h = sha256_file(&f.path)?;
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, h.clone());
        *self.dirty.lock().unwrap_or_else(|e| e.into_inner()) = true;
        Ok(h)
    }

    /// Writes the cache back if anything was added; a failure only costs speed next time.
    pub fn save(&self) {
        let Some(path) = &self.path else { return };
        if !*self.dirty.lock().unwrap_or_else(|e| e.into_inner()) {
            return;
        }
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Ok(text) = serde_json::to_vec(&*map) {
            let _ = crate::fsops::write_atomic(path, &text);
        }
    }
}

/// Groups of identical content among `files` (any order, any store).
pub fn find(
    files: impl IntoIterator<Item = FileInfo>,
    cache: &HashCache,
    warnings: &Warnings,
) -> Vec<DupGroup> {
    // One entry per physical file.
    let mut physical: BTreeMap<(u64, u64), FileInfo> = BTreeMap::new();
    for f in files {
        if f.size > 0 {
            physical.entry((f.dev, f.ino)).or_insert(f);
        }
    }
    let mut by_size: HashMap<u64, Vec<FileInfo>> = HashMap::new();
    for f in physical.into_values() {
        by_size.entry(f.size).or_default().push(f);
    }
    let candidates: Vec<Vec<FileInfo>> = by_size.into_values().filter(|g| g.len() > 1).collect();
    let keyed: Vec<(String, FileInfo)> = candidates
        .into_par_iter()
        .flat_map_iter(|group| {
            let all_git = group
                .iter()
                .all(|f| matches!(f.name_hash, Some(NameHash::GitSha1(_))));
            // Files with the same git blob id hold the same bytes: hash one of them.
            let mut by_git: HashMap<String, String> = HashMap::new();
            let mut keyed = Vec::with_capacity(group.len());
            for f in group {
                let key = match &f.name_hash {
                    Some(NameHash::Sha256(h)) => format!("sha256:{h}"),
                    Some(NameHash::GitSha1(h)) if all_git => format!("git-sha1:{h}"),
                    Some(NameHash::GitSha1(h)) if by_git.contains_key(h) => by_git[h].clone(),
                    other => match cache.sha256(&f) {
                        Ok(s) => {
                            let k = format!("sha256:{s}");
                            if let Some(NameHash::GitSha1(h)) = other {
                                by_git.insert(h.clone(), k.clone());
                            }
                            k
                        }
                        Err(e) => {
                            warnings.push(format!(
                                "{}: cannot read to compare contents: {e}",
                                f.path.display()
                            ));
                            continue;
                        }
                    },
                };
                keyed.push((key, f));
            }
            keyed
        })
        .collect();
    let mut by_key: BTreeMap<(String, u64), Vec<PathBuf>> = BTreeMap::new();
    for (k, f) in keyed {
        by_key.entry((k, f.size)).or_default().push(f.path);
    }
    let mut groups: Vec<DupGroup> = by_key
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|((content, size), mut copies)| {
            copies.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
            DupGroup {
                wasted_bytes: (copies.len() as u64 - 1) * size,
                content,
                size,
                copies,
            }
        })
        .collect();
    groups.sort_by(|a, b| {
        b.wasted_bytes
            .cmp(&a.wasted_bytes)
            .then(a.content.cmp(&b.content))
    });
    groups
}
