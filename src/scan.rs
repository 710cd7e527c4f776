//! Finding what keeps a repo from using the central store: project-local model caches and
//! config lines that point at one. Caches are always git-ignored, so this walks ignored
//! folders too, but never `.git`, `node_modules`, virtualenvs or build output.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::configfile;
use crate::stores::files::is_weight_file;

/// Folder names that are a project-local cache by name.
pub const CACHE_NAMES: &[&str] = &["model_cache", ".mlx_cache", "huggingface"];

/// Folders never worth entering.
const SKIP: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "__pycache__",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
];

/// Loose weight files smaller than this are not reported on their own.
pub const LOOSE_MIN_BYTES: u64 = 1_000_000;

#[derive(Clone, Debug, Serialize)]
pub struct Cache {
    pub path: PathBuf,
    pub bytes: u64,
    /// `hf-layout` (holds `models--*` folders), `named` (model_cache, .mlx_cache…), `loose-file`
    /// `local-dir` (a `--local-dir` download) or `model-folder` (a converted or saved model:
    /// `config.json` with weights); a plain migrate leaves the last two where they are.
    pub kind: &'static str,
    /// The models in it, as `local:<id>` (filled in by `modelenv scan`).
    pub models: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConfigLine {
    pub path: PathBuf,
    pub line: usize,
    pub key: String,
    pub value: String,
    /// Bytes of the value token in the file (quotes included), for formats read by a grammar
    /// (`crate::configfile`); `.env` lines are edited by `crate::dotenv`.
    #[serde(skip)]
    pub span: Option<std::ops::Range<usize>>,
}

fn is_venv(dir: &Path) -> bool {
    dir.join("pyvenv.cfg").is_file() || dir.join("conda-meta").is_dir()
}

/// Project-local caches below `root`, outside `exclude` (the central stores).
pub fn caches(root: &Path, exclude: &[PathBuf]) -> Vec<Cache> {
    let mut out = Vec::new();
    let mut it = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(Ok(e)) = it.next() {
        let p = e.path();
        if exclude.iter().any(|x| p.starts_with(x)) {
            if e.file_type().is_dir() {
                it.skip_current_dir();
            }
            continue;
        }
        let name = e.file_name().to_string_lossy();
        if e.file_type().is_dir() {
            if e.depth() > 0 && (SKIP.contains(&name.as_ref()) || is_venv(p)) {
                it.skip_current_dir();
                continue;
            }
            if e.depth() > 0 && crate::stores::localdir::is_local_dir(p) {
                // A `--local-dir` download: its `.cache/huggingface` is huggingface_hub's
                // bookkeeping for the files next to it, not a cache of its own.
                out.push(Cache {
                    path: p.to_path_buf(),
                    bytes: crate::scan_size(p),
                    kind: "local-dir",
                    models: Vec::new(),
                });
                it.skip_current_dir();
                continue;
            }
            let hf_layout = crate::stores::hub::looks_like_hub(p);
            if e.depth() > 0 && hf_layout {
                out.push(Cache {
                    path: p.to_path_buf(),
                    bytes: crate::scan_size(p),
                    kind: "hf-layout",
                    models: Vec::new(),
                });
                it.skip_current_dir();
            } else if e.depth() > 0 && CACHE_NAMES.contains(&name.as_ref()) {
                let hub = p.join("hub");
                if crate::stores::hub::looks_like_hub(&hub) {
                    // An HF_HOME kept in the project: its hub cache is what merges into the
                    // central one; the rest (datasets, a token) is left where it is.
                    out.push(Cache {
                        path: hub.clone(),
                        bytes: crate::scan_size(&hub),
                        kind: "hf-layout",
                        models: Vec::new(),
                    });
                } else if holds_cache_files(p) {
                    out.push(Cache {
                        path: p.to_path_buf(),
                        bytes: crate::scan_size(p),
                        kind: "named",
                        models: Vec::new(),
                    });
                }
                it.skip_current_dir();
            } else if e.depth() > 0 && is_model_folder(p) {
                // A converted or saved model (`mlx_lm.convert`, `save_pretrained`): the
                // project loads it by its path, so it is one copy, kept whole.
                out.push(Cache {
                    path: p.to_path_buf(),
                    bytes: crate::scan_size(p),
                    kind: "model-folder",
                    models: Vec::new(),
                });
                it.skip_current_dir();
            }
        } else if e.file_type().is_file() && is_weight_file(p) {
            let bytes = e.metadata().map(|m| m.len()).unwrap_or(0);
            if bytes >= LOOSE_MIN_BYTES {
                out.push(Cache {
                    path: p.to_path_buf(),
                    bytes,
                    models: Vec::new(),
                    kind: "loose-file",
                });
            }
        }
    }
    out
}

/// File endings of the weights a converted or saved model folder holds next to its
/// `config.json`.
const MODEL_WEIGHTS: &[&str] = &["safetensors", "npz", "gguf", "bin"];

/// Whether `dir` directly holds a model: a `config.json` and weights (`*.safetensors`,
/// `*.npz`, `*.gguf`, `*.bin`), as `save_pretrained` and `mlx_lm.convert` leave them.
pub fn is_model_folder(dir: &Path) -> bool {
    if !fs::symlink_metadata(dir.join("config.json")).is_ok_and(|m| m.is_file()) {
        return false;
    }
    fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            e.file_type().is_ok_and(|t| t.is_file())
                && e.path()
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| MODEL_WEIGHTS.contains(&x.to_ascii_lowercase().as_str()))
        })
    })
}

/// Whether a folder with a cache's name really holds a cache: model files, a cache's marker
/// files, or nothing at all. A folder of source code that happens to be called `huggingface`
/// (a Python package, a project's client module) is not one.
fn holds_cache_files(dir: &Path) -> bool {
    let Ok(mut top) = fs::read_dir(dir) else {
        return false;
    };
    let first = top.next();
    if first.is_none() {
        return true; // empty
    }
    let source = |p: &Path| {
        p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            matches!(
                e,
                "py" | "pyi" | "ipynb" | "rs" | "js" | "ts" | "go" | "c" | "h" | "cpp" | "java"
            )
        })
    };
    let mut evidence = false;
    for e in walkdir::WalkDir::new(dir)
        .min_depth(1)
        .max_depth(4)
        .follow_links(false)
        .into_iter()
        .flatten()
        .take(10_000)
    {
        let name = e.file_name().to_string_lossy();
        if e.depth() == 1
            && matches!(
                name.as_ref(),
                ".git" | "__init__.py" | "setup.py" | "pyproject.toml" | "package.json"
            )
        {
            return false;
        }
        if e.file_type().is_file() && source(e.path()) {
            return false;
        }
        evidence |= matches!(name.as_ref(), ".locks" | "CACHEDIR.TAG" | "version.txt")
            || (e.file_type().is_file() && is_weight_file(e.path()))
            || name
                .split_once("--")
                .is_some_and(|(p, _)| crate::stores::hub::repo_type(p).is_some());
    }
    evidence
}

/// Keys whose value names a model cache.
fn is_cache_key(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    matches!(
        k.as_str(),
        "HF_CACHE_DIR"
            | "HF_HOME"
            | "HF_HUB_CACHE"
            | "HUGGINGFACE_HUB_CACHE"
            | "TRANSFORMERS_CACHE"
            | "HF_DATASETS_CACHE"
            | "CACHE_DIR"
    ) || k.starts_with("MODEL_CACHE")
        || (k.contains("CACHE")
            && (k.contains("MODEL") || k.contains("HF") || k.contains("HUGGING")))
}

/// A value that keeps the cache inside the project: relative, or below `root`.
fn is_local_value(value: &str, root: &Path) -> bool {
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'');
    if v.is_empty() || v.starts_with('$') || v.starts_with('~') {
        return false;
    }
    if v.starts_with('/') {
        return Path::new(v).starts_with(root);
    }
    // A relative path: `./x`, `../x`, `x/y`, `model_cache`.
    !v.contains("://")
}

/// Config lines below `root` that point a cache at a project-local folder.
pub fn configs(root: &Path) -> Vec<ConfigLine> {
    let mut out = Vec::new();
    let mut it = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter();
    while let Some(Ok(e)) = it.next() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().is_dir() {
            if e.depth() > 0
                && (SKIP.contains(&name.as_str())
                    || CACHE_NAMES.contains(&name.as_str())
                    || is_venv(p))
            {
                it.skip_current_dir();
            }
            continue;
        }
        if !e.file_type().is_file() || e.metadata().map(|m| m.len()).unwrap_or(0) > 1_000_000 {
            continue;
        }
        let kind = if crate::dotenv::is_dotenv_name(&name) {
            "env"
        } else if name.ends_with(".py") {
            "py"
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            "yaml"
        } else if name.ends_with(".toml") {
            "toml"
        } else {
            continue;
        };
        let Ok(text) = fs::read_to_string(p) else {
            continue;
        };
        let found: Vec<(usize, String, String, Option<std::ops::Range<usize>>)> = if kind == "env" {
            // Read as python-dotenv reads it: quoted keys, multi-line values, CR line ends
            // (migrate edits them with the same parser, so no span is kept here).
            crate::dotenv::parse(&text)
                .into_iter()
                .filter_map(|b| Some((b.line, b.key?, b.value?, None)))
                .collect()
        } else {
            let settings = match kind {
                "py" => configfile::python(&text),
                "yaml" => configfile::yaml(&text),
                _ => configfile::toml(&text),
            };
            settings
                .into_iter()
                .map(|s| (s.line, s.key, s.value, Some(s.span)))
                .collect()
        };
        for (line, key, value, span) in found {
            if is_cache_key(&key) && is_local_value(&value, root) {
                out.push(ConfigLine {
                    path: p.to_path_buf(),
                    line,
                    key,
                    value,
                    span,
                });
            }
        }
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_keys() {
        assert!(
            is_cache_key("hf_cache_dir")
                && is_cache_key("MODEL_CACHE_PATH")
                && !is_cache_key("PORT")
        );
    }

    #[test]
    fn local_values() {
        let root = Path::new("/repo");
        assert!(is_local_value("./model_cache", root));
        assert!(is_local_value("\"/repo/cache\"", root));
        assert!(!is_local_value("${HOME}/.cache/huggingface/hub", root));
        assert!(!is_local_value("~/.cache", root));
        assert!(!is_local_value("/data/hf", root));
    }
}
