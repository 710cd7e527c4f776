//! Builders for model stores in their real on-disk layouts (FACTS.md §2): the Hugging Face
//! hub cache and Ollama's store. Tests check the hub fixtures with huggingface_hub's own
//! `scan_cache_dir`; the benchmark uses the same builders for its 3,000-repo cache.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use sha1::Sha1;
use sha2::{Digest, Sha256};

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// The git blob id huggingface_hub uses as the etag of a regular (non-LFS) file.
pub fn git_sha1_hex(data: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", data.len()).as_bytes());
    h.update(data);
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A 40-hex commit id derived from a label.
pub fn commit(label: &str) -> String {
    let mut h = Sha1::new();
    h.update(label.as_bytes());
    hex(&h.finalize())
}

pub struct Hub {
    pub root: PathBuf,
}

pub struct Repo {
    pub path: PathBuf,
}

/// A file in a snapshot: its path in the repo, content, and whether it is stored with LFS
/// (etag = sha256 of the content) or as a regular git file (etag = git blob sha1).
pub struct File<'a> {
    pub path: &'a str,
    pub data: &'a [u8],
    pub lfs: bool,
}

pub fn lfs<'a>(path: &'a str, data: &'a [u8]) -> File<'a> {
    File {
        path,
        data,
        lfs: true,
    }
}

pub fn git<'a>(path: &'a str, data: &'a [u8]) -> File<'a> {
    File {
        path,
        data,
        lfs: false,
    }
}

impl Hub {
    pub fn new(root: &Path) -> Hub {
        fs::create_dir_all(root.join(".locks")).unwrap();
        fs::write(
            root.join("CACHEDIR.TAG"),
            "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by huggingface_hub.\n",
        )
        .unwrap();
        Hub {
            root: root.to_path_buf(),
        }
    }

    /// `kind` is model, dataset or space.
    pub fn repo(&self, kind: &str, id: &str) -> Repo {
        let path = self
            .root
            .join(format!("{kind}s--{}", id.replace('/', "--")));
        fs::create_dir_all(path.join("blobs")).unwrap();
        fs::create_dir_all(path.join("refs")).unwrap();
        fs::create_dir_all(path.join("snapshots")).unwrap();
        Repo { path }
    }
}

impl Repo {
    /// Stores `data` in blobs/ and returns its etag.
    pub fn blob(&self, data: &[u8], lfs: bool) -> String {
        let etag = if lfs {
            sha256_hex(data)
        } else {
            git_sha1_hex(data)
        };
        let p = self.path.join("blobs").join(&etag);
        if !p.exists() {
            fs::write(p, data).unwrap();
        }
        etag
    }

    /// A snapshot whose files are relative symlinks into blobs/, as huggingface_hub makes them.
    pub fn snapshot(&self, commit: &str, files: &[File]) -> PathBuf {
        let snap = self.path.join("snapshots").join(commit);
        for f in files {
            let etag = self.blob(f.data, f.lfs);
            let link = snap.join(f.path);
            fs::create_dir_all(link.parent().unwrap()).unwrap();
            let depth = f.path.matches('/').count();
            let target = format!("{}../../blobs/{etag}", "../".repeat(depth));
            symlink(target, &link).unwrap();
        }
        fs::create_dir_all(&snap).unwrap();
        snap
    }

    /// A snapshot with real files (HF_HUB_DISABLE_SYMLINKS=1, Windows).
    pub fn snapshot_no_symlinks(&self, commit: &str, files: &[File]) -> PathBuf {
        let snap = self.path.join("snapshots").join(commit);
        for f in files {
            let p = snap.join(f.path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f.data).unwrap();
        }
        snap
    }

    /// refs/<name> holding the commit hash with no newline.
    pub fn git_ref(&self, name: &str, commit: &str) {
        let p = self.path.join("refs").join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, commit).unwrap();
    }

    pub fn incomplete(&self, data: &[u8]) -> PathBuf {
        let p = self
            .path
            .join("blobs")
            .join(format!("{}.incomplete", sha256_hex(data)));
        fs::write(&p, data).unwrap();
        p
    }

    pub fn no_exist(&self, commit: &str, path: &str) {
        let p = self.path.join(".no_exist").join(commit).join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, "").unwrap();
    }
}

pub struct Ollama {
    pub root: PathBuf,
}

pub const MODEL: &str = "application/vnd.ollama.image.model";
pub const TEMPLATE: &str = "application/vnd.ollama.image.template";
pub const PARAMS: &str = "application/vnd.ollama.image.params";
pub const LICENSE: &str = "application/vnd.ollama.image.license";
pub const CONFIG: &str = "application/vnd.docker.container.image.v1+json";

impl Ollama {
    pub fn new(root: &Path) -> Ollama {
        fs::create_dir_all(root.join("blobs")).unwrap();
        fs::create_dir_all(root.join("manifests")).unwrap();
        Ollama {
            root: root.to_path_buf(),
        }
    }

    pub fn blob(&self, data: &[u8]) -> (String, PathBuf) {
        let hex = sha256_hex(data);
        let p = self.root.join("blobs").join(format!("sha256-{hex}"));
        if !p.exists() {
            fs::write(&p, data).unwrap();
        }
        (format!("sha256:{hex}"), p)
    }

    /// A model at manifests/<host>/<ns>/<model>/<tag> with a config and these layers.
    pub fn model(
        &self,
        host: &str,
        ns: &str,
        model: &str,
        tag: &str,
        config: &[u8],
        layers: &[(&str, &[u8])],
    ) -> PathBuf {
        let (cd, _) = self.blob(config);
        let layers_json: Vec<serde_json::Value> = layers
            .iter()
            .map(|(media, data)| {
                let (d, _) = self.blob(data);
                serde_json::json!({"mediaType": media, "digest": d, "size": data.len()})
            })
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": CONFIG, "digest": cd, "size": config.len()},
            "layers": layers_json,
        });
        let p = self
            .root
            .join("manifests")
            .join(host)
            .join(ns)
            .join(model)
            .join(tag);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, serde_json::to_vec(&manifest).unwrap()).unwrap();
        p
    }

    pub fn library(
        &self,
        model: &str,
        tag: &str,
        config: &[u8],
        layers: &[(&str, &[u8])],
    ) -> PathBuf {
        self.model("registry.ollama.ai", "library", model, tag, config, layers)
    }
}

/// A model's repo id and its files with their bytes.
pub type SeedModel = (String, Vec<(String, Vec<u8>)>);

/// The projects of the monorepo the plan describes.
pub const SEED_PROJECTS: [&str; 4] = [
    "representations/latent-space/lens",
    "alignment/steerability",
    "web-tools/steerability",
    "web-tools/latent-lens",
];

/// Builds the seed's monorepo below `repo`: every project has its own `model_cache` (HF layout)
/// with a model all four share and one of its own, `HF_CACHE_DIR=./model_cache` in its
/// `.env.example` and a `"./model_cache"` default in `backend/app/config.py`. Returns each
/// model's repo id with its files and bytes.
pub fn seed_monorepo(repo: &Path) -> Vec<SeedModel> {
    let shared: Vec<(String, Vec<u8>)> = vec![
        ("config.json".into(), b"{\"model_type\": \"gpt2\"}".to_vec()),
        ("model.safetensors".into(), vec![9u8; 200_000]),
        ("tokenizer/vocab.json".into(), b"{\"a\": 1}".to_vec()),
    ];
    let mut models = vec![("org/shared-model".to_owned(), shared.clone())];
    for (i, p) in SEED_PROJECTS.iter().enumerate() {
        let dir = repo.join(p);
        let hub = Hub::new(&dir.join("model_cache"));
        let put = |id: &str, files: &[(String, Vec<u8>)], label: &str| {
            let r = hub.repo("model", id);
            let c = commit(label);
            let fs: Vec<File> = files
                .iter()
                .map(|(n, d)| File {
                    path: n,
                    data: d,
                    lfs: n.ends_with(".safetensors"),
                })
                .collect();
            r.snapshot(&c, &fs);
            r.git_ref("main", &c);
        };
        put("org/shared-model", &shared, "shared");
        let own_id = format!("org/own-{i}");
        let own = vec![("model.safetensors".to_owned(), vec![i as u8 + 1; 50_000])];
        put(&own_id, &own, p);
        models.push((own_id, own));
        fs::write(
            dir.join(".env.example"),
            "PORT=8000\nHF_CACHE_DIR=./model_cache\n",
        )
        .unwrap();
        fs::create_dir_all(dir.join("backend/app")).unwrap();
        fs::write(
            dir.join("backend/app/config.py"),
            "\"\"\"Settings for the backend.\"\"\"\n\n\nclass Settings:\n    port: int = 8000\n    hf_cache_dir: str = \"./model_cache\"\n\n\nsettings = Settings()\n",
        )
        .unwrap();
    }
    models
}
