//! Folders of plain files: the custom model dir, LM Studio's models, project-local folders and
//! the stores modelenv only measures (the datasets and Xet caches).
//!
//! A folder holding `config.json` or `*.safetensors` is one model (a Hugging Face style
//! checkpoint with all its shards); elsewhere each weight file is a model of its own.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{FileInfo, InodeSet, Model, StoreKind, StoreScan, StoreSummary, Time, Warnings};

/// File endings that hold model weights.
pub const WEIGHT_EXTENSIONS: &[&str] = &[
    "safetensors",
    "gguf",
    "bin",
    "pt",
    "pth",
    "onnx",
    "ckpt",
    "h5",
    "npz",
    "mlmodel",
    "tflite",
    "ggml",
];

pub fn is_weight_file(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| WEIGHT_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Every regular file below `root`, walked in parallel over its top-level entries.
pub fn walk(root: &Path, warnings: &Warnings) -> Vec<FileInfo> {
    let Ok(rd) = fs::read_dir(root) else {
        warnings.push(format!("{}: cannot read the folder", root.display()));
        return Vec::new();
    };
    let tops: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    let mut files: Vec<FileInfo> = tops
        .par_iter()
        .flat_map_iter(|top| super::hub::walk_files(top, warnings))
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn summary(root: &Path, store: StoreKind, files: &[FileInfo], models: usize) -> StoreSummary {
    let mut inodes = InodeSet::default();
    files.iter().for_each(|f| inodes.add(f));
    StoreSummary {
        store,
        path: root.to_path_buf(),
        exists: true,
        bytes: inodes.bytes(),
        files: inodes.len(),
        models,
    }
}

/// A store that is measured but holds no models modelenv lists.
pub fn plain_store(root: &Path, store: StoreKind, warnings: &Warnings) -> StoreScan {
    if !root.is_dir() {
        return StoreScan::missing(root, store);
    }
    let files = walk(root, warnings);
    StoreScan {
        summary: summary(root, store, &files, 0),
        models: Vec::new(),
        reclaim: Vec::new(),
    }
}

fn model_of(
    store: StoreKind,
    root: &Path,
    path: PathBuf,
    kind: String,
    files: Vec<FileInfo>,
) -> Model {
    let mut inodes = InodeSet::default();
    files.iter().for_each(|f| inodes.add(f));
    let modified = files
        .iter()
        .map(|f| f.mtime)
        .fold(None, |a: Option<f64>, m| Some(a.map_or(m, |x| x.max(m))));
    let accessed = files
        .iter()
        .map(|f| f.atime)
        .fold(None, |a: Option<f64>, m| Some(a.map_or(m, |x| x.max(m))));
    let id = path
        .strip_prefix(root)
        .unwrap_or(&path)
        .to_string_lossy()
        .into_owned();
    Model {
        store,
        id,
        kind,
        bytes: inodes.bytes(),
        path,
        last_modified: modified.map(Time),
        last_accessed: accessed.map(Time),
        files: files.len(),
        refs: Vec::new(),
        revisions: Vec::new(),
        contents: files,
        archived: None,
    }
}

/// Models in a folder of loose files (the custom dir, a project-local folder), leaving out
/// the folders in `skip` (other stores inside it).
pub fn scan(root: &Path, store: StoreKind, skip: &[PathBuf], warnings: &Warnings) -> StoreScan {
    if !root.is_dir() {
        return StoreScan::missing(root, store);
    }
    let mut files = walk(root, warnings);
    files.retain(|f| !skip.iter().any(|s| f.path.starts_with(s)));
    // `--local-dir` downloads are one model each, their files vouched for by their download
    // metadata; huggingface_hub's bookkeeping in them is no model's content.
    let downloads = super::localdir::annotate(&mut files);
    // Folders that are checkpoints: they directly hold config.json or safetensors shards.
    let mut model_dirs: Vec<PathBuf> = files
        .iter()
        .filter(|f| !super::localdir::is_bookkeeping(&f.path, &downloads))
        .filter(|f| {
            let n = f.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n == "config.json" || n.ends_with(".safetensors")
        })
        .filter_map(|f| f.path.parent().map(Path::to_path_buf))
        .filter(|d| d != root)
        .chain(downloads.iter().filter(|d| *d != root).cloned())
        .collect();
    model_dirs.sort();
    model_dirs.dedup();
    // Keep only the topmost: a checkpoint's subfolders belong to it.
    let mut top_dirs: Vec<PathBuf> = Vec::new();
    for d in model_dirs {
        if !top_dirs.iter().any(|t| d.starts_with(t)) {
            top_dirs.push(d);
        }
    }
    let mut grouped: BTreeMap<PathBuf, Vec<FileInfo>> = BTreeMap::new();
    let mut singles = Vec::new();
    for f in files
        .iter()
        .filter(|f| !super::localdir::is_bookkeeping(&f.path, &downloads))
    {
        match top_dirs.iter().find(|d| f.path.starts_with(d)) {
            Some(d) => grouped.entry(d.clone()).or_default().push(f.clone()),
            None if is_weight_file(&f.path) => singles.push(f.clone()),
            None => {}
        }
    }
    let download = downloads.iter().any(|d| d == root);
    if download || crate::scan::is_model_folder(root) {
        // The folder is one `--local-dir` download or one converted or saved model: one
        // model, named by the folder.
        let contents: Vec<FileInfo> = files
            .iter()
            .filter(|f| !super::localdir::is_bookkeeping(&f.path, &downloads))
            .cloned()
            .collect();
        let mut m = model_of(
            store,
            root,
            root.to_path_buf(),
            if download { "local-dir" } else { "folder" }.into(),
            contents,
        );
        m.id = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return StoreScan {
            summary: summary(root, store, &files, 1),
            models: vec![m],
            reclaim: Vec::new(),
        };
    }
    let mut models: Vec<Model> = grouped
        .into_iter()
        .map(|(d, fs)| {
            let kind = if downloads.contains(&d) {
                "local-dir"
            } else {
                "folder"
            };
            model_of(store, root, d, kind.into(), fs)
        })
        .collect();
    for f in singles {
        let ext = f
            .path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("file")
            .to_ascii_lowercase();
        models.push(model_of(store, root, f.path.clone(), ext, vec![f]));
    }
    models.sort_by(|a, b| a.id.cmp(&b.id));
    StoreScan {
        summary: summary(root, store, &files, models.len()),
        models,
        reclaim: Vec::new(),
    }
}

/// LM Studio: `models/<publisher>/<model>/<file>`; each `<publisher>/<model>` is a model.
pub fn scan_lmstudio(root: &Path, warnings: &Warnings) -> StoreScan {
    let store = StoreKind::Lmstudio;
    if !root.is_dir() {
        return StoreScan::missing(root, store);
    }
    let files = walk(root, warnings);
    let mut grouped: BTreeMap<PathBuf, Vec<FileInfo>> = BTreeMap::new();
    for f in &files {
        let rel = f.path.strip_prefix(root).unwrap_or(&f.path);
        let parts: Vec<_> = rel.components().collect();
        if parts.len() >= 3 {
            grouped
                .entry(root.join(parts[0]).join(parts[1]))
                .or_default()
                .push(f.clone());
        }
    }
    let models: Vec<Model> = grouped
        .into_iter()
        .map(|(d, fs)| {
            let kind = if fs
                .iter()
                .any(|f| f.path.extension().is_some_and(|e| e == "gguf"))
            {
                "gguf"
            } else {
                "folder"
            };
            model_of(store, root, d, kind.into(), fs)
        })
        .collect();
    StoreScan {
        summary: summary(root, store, &files, models.len()),
        models,
        reclaim: Vec::new(),
    }
}
