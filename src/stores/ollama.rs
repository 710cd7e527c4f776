//! Ollama's store: `manifests/<host>/<namespace>/<model>/<tag>` (JSON) and
//! `blobs/sha256-<hex>`. Names and sizes follow `ollama list`: `model:tag` with the default
//! registry and `library` namespace left out, SIZE = config.size + the layers' sizes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{
    FileInfo, InodeSet, Model, NameHash, Reclaim, ReclaimKind, StoreKind, StoreScan, StoreSummary,
    Time, Warnings,
};

pub const DEFAULT_HOST: &str = "registry.ollama.ai";

#[derive(Debug, Deserialize)]
pub struct Layer {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    /// Ollama accepts a layer without a size (seen on config layers).
    #[serde(default)]
    pub size: u64,
}

#[derive(Debug, Deserialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion", default)]
    pub schema_version: u32,
    pub config: Layer,
    #[serde(default)]
    pub layers: Vec<Layer>,
}

impl Manifest {
    pub fn size(&self) -> u64 {
        self.config.size + self.layers.iter().map(|l| l.size).sum::<u64>()
    }

    /// Every blob file name it needs (`sha256-<hex>`).
    pub fn blob_names(&self) -> Vec<String> {
        std::iter::once(&self.config)
            .chain(&self.layers)
            .map(|l| l.digest.replacen(':', "-", 1))
            .collect()
    }
}

/// The name `ollama list` prints for a manifest at `<host>/<namespace>/<model>/<tag>`.
pub fn display_name(parts: &[String]) -> Option<String> {
    let [host, ns, model, tag] = parts else {
        return None;
    };
    Some(if host == DEFAULT_HOST && ns == "library" {
        format!("{model}:{tag}")
    } else if host == DEFAULT_HOST {
        format!("{ns}/{model}:{tag}")
    } else {
        format!("{host}/{ns}/{model}:{tag}")
    })
}

/// The manifest path for a name as `ollama list` prints it.
pub fn manifest_path(root: &Path, name: &str) -> PathBuf {
    let (repo, tag) = name.rsplit_once(':').unwrap_or((name, "latest"));
    let parts: Vec<&str> = repo.split('/').collect();
    let (host, ns, model) = match parts.as_slice() {
        [m] => (DEFAULT_HOST, "library", *m),
        [n, m] => (DEFAULT_HOST, *n, *m),
        [h, n, m] => (*h, *n, *m),
        _ => (DEFAULT_HOST, "library", repo),
    };
    root.join("manifests")
        .join(host)
        .join(ns)
        .join(model)
        .join(tag)
}

pub fn read_manifest(path: &Path) -> anyhow::Result<Manifest> {
    let text = super::fastfs::read_small_path(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    Ok(serde_json::from_slice(&text)?)
}

pub fn scan(root: &Path, warnings: &Warnings) -> StoreScan {
    let store = StoreKind::Ollama;
    if !root.is_dir() {
        return StoreScan::missing(root, store);
    }
    let mut inodes = InodeSet::default();
    let blobs_dir = root.join("blobs");
    let mut blobs: BTreeMap<String, FileInfo> = BTreeMap::new();
    let mut reclaim = Vec::new();
    if let Ok(rd) = fs::read_dir(&blobs_dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                warnings.push(format!(
                    "{}: not a regular file in Ollama's blobs/",
                    path.display()
                ));
                continue;
            }
            let hex = name
                .strip_prefix("sha256-")
                .filter(|h| h.len() == 64 && !h.contains('-'));
            let info = FileInfo::new(
                path.clone(),
                &meta,
                hex.map(|h| NameHash::Sha256(h.to_owned())),
            );
            inodes.add(&info);
            if name.contains("-partial") {
                reclaim.push(Reclaim {
                    store,
                    kind: ReclaimKind::Incomplete,
                    path,
                    bytes: info.size,
                    model: None,
                    blobs: Vec::new(),
                    mtime: Some(info.mtime),
                });
            } else if hex.is_some() {
                blobs.insert(name, info);
            } else {
                warnings.push(format!(
                    "{}: unexpected file in Ollama's blobs/ (the server deletes files with invalid names)",
                    path.display()
                ));
            }
        }
    }
    let manifests_dir = root.join("manifests");
    let mut models = Vec::new();
    let mut referenced: BTreeSet<String> = BTreeSet::new();
    // Any manifest that cannot be read may name any blob: then no blob is offered as an orphan.
    let mut unreadable: Option<String> = None;
    // Links are followed: a manifest reached through a link still keeps its blobs.
    for e in walkdir::WalkDir::new(&manifests_dir)
        .min_depth(1)
        .follow_links(true)
        .sort_by_file_name()
    {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                unreadable.get_or_insert(format!("{err}"));
                warnings.push(format!("reading Ollama manifests: {err}"));
                continue;
            }
        };
        if !e.file_type().is_file() {
            if !e.file_type().is_dir() {
                unreadable.get_or_insert(format!("{} is not a file", e.path().display()));
            }
            continue;
        }
        let path = e.path().to_path_buf();
        if let Ok(m) = e.metadata() {
            inodes.add(&FileInfo::new(path.clone(), &m, None));
        }
        let parts: Vec<String> = path
            .strip_prefix(&manifests_dir)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let Some(name) = display_name(&parts) else {
            warnings.push(format!(
                "{}: not at manifests/<host>/<namespace>/<model>/<tag>",
                path.display()
            ));
            continue;
        };
        let manifest = match read_manifest(&path) {
            Ok(m) => m,
            Err(err) => {
                warnings.push(format!(
                    "{}: malformed Ollama manifest: {err}",
                    path.display()
                ));
                unreadable.get_or_insert(format!("{} could not be read", path.display()));
                continue;
            }
        };
        let mut contents = Vec::new();
        let mut accessed = e.metadata().ok().map(|m| Time::of(&m).1.0).unwrap_or(0.0);
        for b in manifest.blob_names() {
            match blobs.get(&b) {
                Some(info) => {
                    accessed = accessed.max(info.atime);
                    contents.push(info.clone());
                }
                None => warnings.push(format!(
                    "ollama model {name}: blob {b} is missing from {}",
                    blobs_dir.display()
                )),
            }
            referenced.insert(b);
        }
        let modified = e.metadata().ok().map(|m| Time::of(&m).0);
        models.push(Model {
            store,
            id: name,
            kind: "model".into(),
            bytes: manifest.size(),
            path,
            last_modified: modified,
            last_accessed: Some(Time(accessed)),
            files: contents.len(),
            refs: Vec::new(),
            revisions: Vec::new(),
            contents,
            archived: None,
        });
    }
    if let Some(why) = &unreadable {
        warnings.push(format!(
            "no Ollama blob is offered as unreferenced: {why}, and it may name any of them"
        ));
    }
    for (name, info) in &blobs {
        if !referenced.contains(name) && unreadable.is_none() {
            reclaim.push(Reclaim {
                store,
                kind: ReclaimKind::Orphan,
                path: info.path.clone(),
                bytes: info.freed(),
                model: None,
                blobs: Vec::new(),
                mtime: Some(info.mtime),
            });
        }
    }
    StoreScan {
        summary: StoreSummary {
            store,
            path: root.to_path_buf(),
            exists: true,
            bytes: inodes.bytes(),
            files: inodes.len(),
            models: models.len(),
        },
        models,
        reclaim,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_ollama_list() {
        let p = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            display_name(&p(&["registry.ollama.ai", "library", "llama3.2", "latest"])).unwrap(),
            "llama3.2:latest"
        );
        assert_eq!(
            display_name(&p(&["registry.ollama.ai", "jmorgan", "x", "q4"])).unwrap(),
            "jmorgan/x:q4"
        );
        assert_eq!(
            display_name(&p(&["hf.co", "org", "m", "Q4_K_M"])).unwrap(),
            "hf.co/org/m:Q4_K_M"
        );
        let root = Path::new("/o");
        assert_eq!(
            manifest_path(root, "llama3.2:latest"),
            Path::new("/o/manifests/registry.ollama.ai/library/llama3.2/latest")
        );
        assert_eq!(
            manifest_path(root, "hf.co/org/m:Q4"),
            Path::new("/o/manifests/hf.co/org/m/Q4")
        );
    }
}
