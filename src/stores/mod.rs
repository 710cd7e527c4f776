//! Readers for every place models live, all producing one `Model` type so every command
//! (usage, models, prune, scan, migrate) works from the same inventory.
//!
//! Layouts follow the libraries exactly: `hub` mirrors huggingface_hub's `scan_cache_dir`,
//! `ollama` reads manifests the way `ollama list` does, `files` covers folders of loose
//! weights (the custom model dir, LM Studio, project-local folders).

pub mod downloads;
pub mod dupes;
pub mod fastfs;
pub mod files;
pub mod hub;
pub mod localdir;
pub mod ollama;
pub mod reach;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::settings::Settings;

/// Which store a model or file belongs to; also the `STORE:` prefix of model ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum StoreKind {
    /// The Hugging Face hub cache (<HF_HOME>/hub)
    HfHub,
    /// The datasets library's Arrow cache (<HF_HOME>/datasets)
    HfDatasets,
    /// The Xet chunk cache (<HF_HOME>/xet)
    HfXet,
    /// Ollama's models folder
    Ollama,
    /// CUSTOM_MODEL_DIR
    Custom,
    /// LM Studio's models folder
    Lmstudio,
    /// A project-local folder given with --dir
    Local,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::HfHub => "hf-hub",
            StoreKind::HfDatasets => "hf-datasets",
            StoreKind::HfXet => "hf-xet",
            StoreKind::Ollama => "ollama",
            StoreKind::Custom => "custom",
            StoreKind::Lmstudio => "lmstudio",
            StoreKind::Local => "local",
        }
    }
}

/// Seconds since the Unix epoch, printed as RFC 3339 in JSON.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Time(pub f64);

impl Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = UNIX_EPOCH + std::time::Duration::from_secs_f64(self.0.max(0.0));
        s.serialize_str(&humantime::format_rfc3339_seconds(t).to_string())
    }
}

impl Time {
    pub fn of(meta: &fs::Metadata) -> (Time, Time) {
        let m = meta.mtime() as f64 + meta.mtime_nsec() as f64 / 1e9;
        let a = meta.atime() as f64 + meta.atime_nsec() as f64 / 1e9;
        (Time(m), Time(a))
    }

    pub fn now() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// What a file's name says about its content.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NameHash {
    /// 64 hex: sha256 of the content (HF LFS/Xet blobs, Ollama blobs).
    Sha256(String),
    /// 40 hex: the git blob id (HF regular files).
    GitSha1(String),
}

/// One physical file, as far as duplicate detection needs it.
#[derive(Clone, Debug)]
pub struct FileInfo {
    pub path: PathBuf,
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
    pub mtime: f64,
    pub atime: f64,
    pub name_hash: Option<NameHash>,
    /// How many names the file has: deleting one of several frees nothing.
    pub nlink: u64,
}

impl FileInfo {
    /// (device, inode, size): all that counting bytes on disk needs.
    pub fn physical(&self) -> (u64, u64, u64) {
        (self.dev, self.ino, self.size)
    }

    /// The bytes deleting this name frees: none while another name (a hard link made by
    /// dedupe or `migrate --local-dir`) keeps the data.
    pub fn freed(&self) -> u64 {
        if self.nlink <= 1 { self.size } else { 0 }
    }

    pub fn new(path: PathBuf, meta: &fs::Metadata, name_hash: Option<NameHash>) -> FileInfo {
        let (m, a) = Time::of(meta);
        FileInfo {
            path,
            size: meta.len(),
            dev: meta.dev(),
            ino: meta.ino(),
            mtime: m.0,
            atime: a.0,
            name_hash,
            nlink: meta.nlink(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Revision {
    pub commit: String,
    pub refs: Vec<String>,
    pub bytes: u64,
    pub files: usize,
    pub path: PathBuf,
    pub last_modified: Option<Time>,
}

/// A model (or dataset, space, GGUF file…) in any store.
#[derive(Clone, Debug, Serialize)]
pub struct Model {
    pub store: StoreKind,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub bytes: u64,
    pub path: PathBuf,
    pub last_modified: Option<Time>,
    pub last_accessed: Option<Time>,
    pub files: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<Revision>,
    /// The physical files behind it, for duplicate detection.
    #[serde(skip)]
    pub contents: Vec<FileInfo>,
    /// Where the model was archived to (`models archive`): its folder in the store is a link
    /// there, and its bytes are not the store's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archived: Option<Archived>,
}

/// A model moved to another drive, and whether that drive is reachable now.
#[derive(Clone, Debug, Serialize)]
pub struct Archived {
    pub at: PathBuf,
    pub online: bool,
}

impl Model {
    /// The id as listed: archived models are marked, and so is an archive whose drive is gone.
    pub fn listed_id(&self) -> String {
        match &self.archived {
            None => self.id.clone(),
            Some(a) if a.online => format!("{} [archived]", self.id),
            Some(_) => format!("{} [archive offline]", self.id),
        }
    }

    /// `store:id`, as `models rm` takes it.
    pub fn qualified_id(&self) -> String {
        format!("{}:{}", self.store.name(), self.id)
    }
}

/// Something that can be freed without losing a model anyone points to.
#[derive(Clone, Debug, Serialize)]
pub struct Reclaim {
    pub store: StoreKind,
    pub kind: ReclaimKind,
    pub path: PathBuf,
    pub bytes: u64,
    /// The model it belongs to, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// For detached revisions: the blobs only it uses (deleted with it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<PathBuf>,
    #[serde(skip)]
    pub mtime: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReclaimKind {
    /// A snapshot no ref points to, and the blobs only it uses.
    Detached,
    /// A revision of a repo that has no ref at all (downloaded by commit hash, pinned): kept by
    /// prune unless `--include-unreferenced`.
    Unreferenced,
    /// A download that never finished (`.incomplete`, `-partial`).
    Incomplete,
    /// A blob no snapshot or manifest references.
    Orphan,
}

/// Totals for one store folder.
#[derive(Clone, Debug, Serialize)]
pub struct StoreSummary {
    pub store: StoreKind,
    pub path: PathBuf,
    pub exists: bool,
    /// Apparent size of its regular files, each inode counted once.
    pub bytes: u64,
    pub files: u64,
    pub models: usize,
}

/// Everything found in one pass over the stores.
#[derive(Debug, Default)]
pub struct Inventory {
    pub stores: Vec<StoreSummary>,
    pub models: Vec<Model>,
    pub reclaim: Vec<Reclaim>,
    pub warnings: Vec<String>,
}

/// Which stores to read and where they are.
#[derive(Clone, Debug)]
pub struct Locations {
    pub hub: PathBuf,
    pub datasets: PathBuf,
    pub xet: PathBuf,
    pub ollama: PathBuf,
    pub custom: PathBuf,
    pub lmstudio: PathBuf,
    pub local: Vec<PathBuf>,
}

impl Locations {
    pub fn from_settings(settings: &Settings, local: Vec<PathBuf>) -> Locations {
        Locations {
            hub: settings.hub_cache(),
            datasets: settings.datasets_cache(),
            xet: settings.hf_home.join("xet"),
            ollama: settings.ollama_models.clone(),
            custom: settings.custom_model_dir.clone(),
            lmstudio: lmstudio_models(&settings.home),
            local,
        }
    }
}

/// LM Studio's models folder: `~/.lmstudio-home-pointer` names its home, else
/// `~/.cache/lm-studio` if it exists, else `~/.lmstudio`.
pub fn lmstudio_models(home: &Path) -> PathBuf {
    let lm_home = match fs::read_to_string(home.join(".lmstudio-home-pointer")) {
        Ok(p) if !p.trim().is_empty() => PathBuf::from(p.trim()),
        _ if home.join(".cache/lm-studio").is_dir() => home.join(".cache/lm-studio"),
        _ => home.join(".lmstudio"),
    };
    lm_home.join("models")
}

/// What a walk of `root` must leave out because another store owns it (by identity: all
/// resolved), spelled as the walk names it: a store inside `root` or equal to it, and the
/// links at its top (the walk follows those) that lead to a store, into one, or above one.
pub fn nested_in(root: &Path, others: &[&PathBuf]) -> Vec<PathBuf> {
    use crate::fsutil::resolve_existing;
    let mut spots = vec![(root.to_path_buf(), resolve_existing(root))];
    if let Ok(rd) = fs::read_dir(root) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_symlink()) {
                spots.push((e.path(), resolve_existing(&e.path())));
            }
        }
    }
    let mut skip = Vec::new();
    for other in others.iter().map(|o| resolve_existing(o)) {
        for (spelled, real) in &spots {
            if let Ok(rest) = other.strip_prefix(real) {
                skip.push(spelled.join(rest));
            } else if spelled != root && real.starts_with(&other) {
                skip.push(spelled.clone());
            }
        }
    }
    skip
}

/// Collects warnings from parallel readers; each is also printed to stderr by the caller.
#[derive(Default)]
pub struct Warnings(Mutex<Vec<String>>);

impl Warnings {
    pub fn push(&self, w: impl Into<String>) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(w.into());
    }
    pub fn into_vec(self) -> Vec<String> {
        let mut v = self.0.into_inner().unwrap_or_else(|e| e.into_inner());
        v.sort();
        v
    }
}

/// Reads the chosen stores. Missing stores are reported as such, never as errors.
pub fn collect(loc: &Locations, only: &[StoreKind]) -> Inventory {
    let want = |k: StoreKind| only.is_empty() || only.contains(&k);
    let warnings = Warnings::default();
    let mut inv = Inventory::default();
    let mut add = |summary: StoreSummary, models: Vec<Model>, reclaim: Vec<Reclaim>| {
        inv.stores.push(summary);
        inv.models.extend(models);
        inv.reclaim.extend(reclaim);
    };
    // The stores are independent; read them side by side.
    let (hub, (ollama, rest)) = rayon::join(
        || want(StoreKind::HfHub).then(|| hub::scan(&loc.hub, StoreKind::HfHub, &warnings)),
        || {
            rayon::join(
                || want(StoreKind::Ollama).then(|| ollama::scan(&loc.ollama, &warnings)),
                || {
                    let mut v = Vec::new();
                    if want(StoreKind::HfDatasets) {
                        v.push(files::plain_store(
                            &loc.datasets,
                            StoreKind::HfDatasets,
                            &warnings,
                        ));
                    }
                    if want(StoreKind::HfXet) {
                        v.push(files::plain_store(&loc.xet, StoreKind::HfXet, &warnings));
                    }
                    if want(StoreKind::Custom) {
                        // HF_HOME inside the custom folder (`~/models/hf`): its stores are
                        // read and counted once, as themselves.
                        let others = [
                            &loc.hub,
                            &loc.datasets,
                            &loc.xet,
                            &loc.ollama,
                            &loc.lmstudio,
                        ];
                        let skip = nested_in(&loc.custom, &others);
                        v.push(files::scan(
                            &loc.custom,
                            StoreKind::Custom,
                            &skip,
                            &warnings,
                        ));
                    }
                    if want(StoreKind::Lmstudio) {
                        v.push(files::scan_lmstudio(&loc.lmstudio, &warnings));
                    }
                    if want(StoreKind::Local) {
                        for d in &loc.local {
                            v.push(local(d, &warnings));
                        }
                    }
                    v
                },
            )
        },
    );
    for s in hub.into_iter().chain(ollama).chain(rest) {
        add(s.summary, s.models, s.reclaim);
    }
    inv.warnings = warnings.into_vec();
    inv
}

/// A project-local folder: read as a hub cache when it holds `models--*` folders, else as
/// loose files.
fn local(dir: &Path, warnings: &Warnings) -> StoreScan {
    if hub::looks_like_hub(dir) {
        hub::scan(dir, StoreKind::Local, warnings)
    } else {
        files::scan(dir, StoreKind::Local, &[], warnings)
    }
}

/// One store's result.
pub struct StoreScan {
    pub summary: StoreSummary,
    pub models: Vec<Model>,
    pub reclaim: Vec<Reclaim>,
}

impl StoreScan {
    pub fn missing(path: &Path, store: StoreKind) -> StoreScan {
        StoreScan {
            summary: StoreSummary {
                store,
                path: path.to_path_buf(),
                exists: false,
                bytes: 0,
                files: 0,
                models: 0,
            },
            models: Vec::new(),
            reclaim: Vec::new(),
        }
    }
}

/// Sums sizes counting each inode once.
#[derive(Default)]
pub struct InodeSet {
    seen: HashMap<(u64, u64), u64>,
}

impl InodeSet {
    pub fn add(&mut self, f: &FileInfo) {
        self.add_raw(f.dev, f.ino, f.size);
    }
    pub fn add_raw(&mut self, dev: u64, ino: u64, size: u64) {
        self.seen.entry((dev, ino)).or_insert(size);
    }
    pub fn bytes(&self) -> u64 {
        self.seen.values().sum()
    }
    pub fn len(&self) -> u64 {
        self.seen.len() as u64
    }
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// The name-derived hash of a file called `name`, if its name is one.
pub fn name_hash(name: &str) -> Option<NameHash> {
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match name.len() {
        64 if hex(name) => Some(NameHash::Sha256(name.to_owned())),
        40 if hex(name) => Some(NameHash::GitSha1(name.to_owned())),
        _ => None,
    }
}
