//! modelenv's config file (`config.toml`), read and edited with toml_edit so that a user's
//! comments and layout survive every change.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use toml_edit::{DocumentMut, Item, value};

use crate::fsutil;

/// Keys modelenv understands, with what each holds.
pub const KEYS: &[(&str, &str)] = &[
    (
        "hf_home",
        "HF_HOME: the Hugging Face home (hub cache = <hf_home>/hub, datasets = <hf_home>/datasets)",
    ),
    (
        "custom_model_dir",
        "CUSTOM_MODEL_DIR: models that do not come from the Hugging Face hub",
    ),
    (
        "ollama_models",
        "where Ollama should keep its models (OLLAMA_MODELS)",
    ),
    (
        "headroom",
        "free space to keep on each store's filesystem, like 200GB (usage and doctor warn below it)",
    ),
    (
        "transformers_cache",
        "true or false: whether to export TRANSFORMERS_CACHE (only transformers 4.x reads it)",
    ),
    (
        "bin_dir",
        "a folder the managed block puts on PATH when a shell lacks it (where modelenv is installed)",
    ),
];

pub struct Config {
    path: PathBuf,
    original: Option<String>,
    doc: DocumentMut,
}

impl Config {
    /// Loads the file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Config> {
        let original = fsutil::read_optional(path)?;
        let doc = match &original {
            Some(text) => text
                .parse::<DocumentMut>()
                .with_context(|| format!("parsing {}", path.display()))?,
            None => DocumentMut::new(),
        };
        Ok(Config {
            path: path.to_path_buf(),
            original,
            doc,
        })
    }

    /// A config with nothing in it (a file that could not be read is taken as that).
    pub fn empty(path: &Path) -> Config {
        Config {
            path: path.to_path_buf(),
            original: None,
            doc: DocumentMut::new(),
        }
    }

    fn check_key(key: &str) -> Result<()> {
        if KEYS.iter().any(|(k, _)| *k == key) {
            return Ok(());
        }
        let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
        bail!(
            "unknown config key `{key}`; known keys: {}",
            known.join(", ")
        )
    }

    pub fn get_str(&self, key: &str) -> Result<Option<String>> {
        Self::check_key(key)?;
        match self.doc.get(key) {
            None => Ok(None),
            Some(item) => match item.as_str() {
                Some(s) => Ok(Some(s.to_owned())),
                None => bail!("{}: `{key}` must be a string", self.path.display()),
            },
        }
    }

    /// A true/false key (`transformers_cache = false`; the strings "true"/"false" too).
    pub fn get_bool(&self, key: &str) -> Result<Option<bool>> {
        Self::check_key(key)?;
        match self.doc.get(key) {
            None => Ok(None),
            Some(item) => match (item.as_bool(), item.as_str()) {
                (Some(b), _) => Ok(Some(b)),
                (None, Some(s)) => parse_bool(s)
                    .map(Some)
                    .with_context(|| format!("{}: key `{key}`", self.path.display())),
                _ => bail!("{}: `{key}` must be true or false", self.path.display()),
            },
        }
    }

    /// Sets a true/false key as a TOML boolean, keeping the layout around it.
    pub fn set_bool(&mut self, key: &str, val: bool) -> Result<()> {
        Self::check_key(key)?;
        if self.doc.get(key).and_then(Item::as_bool) == Some(val) {
            return Ok(());
        }
        match self.doc.get_mut(key) {
            Some(item) if item.is_value() => {
                let decor = item.as_value().map(|v| v.decor().clone());
                *item = value(val);
                if let (Some(decor), Some(v)) = (decor, item.as_value_mut()) {
                    *v.decor_mut() = decor;
                }
            }
            _ => self.doc[key] = value(val),
        }
        Ok(())
    }

    /// Sets a key, keeping its surrounding comments and the rest of the document as it was.
    pub fn set_str(&mut self, key: &str, val: &str) -> Result<()> {
        Self::check_key(key)?;
        if self.get_str(key)?.as_deref() == Some(val) {
            return Ok(());
        }
        match self.doc.get_mut(key) {
            Some(item) if item.is_value() => {
                let decor = item.as_value().map(|v| v.decor().clone());
                *item = value(val);
                if let (Some(decor), Some(v)) = (decor, item.as_value_mut()) {
                    *v.decor_mut() = decor;
                }
            }
            _ => {
                self.doc[key] = Item::Value(val.into());
            }
        }
        Ok(())
    }

    pub fn render(&self) -> String {
        self.doc.to_string()
    }

    pub fn original(&self) -> Option<&str> {
        self.original.as_deref()
    }
}

/// `true`/`false` as a user types them (also yes/no, on/off, 1/0).
pub fn parse_bool(s: &str) -> Result<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => bail!("expected true or false, got {s:?}"),
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // fixtures are made by hand
mod tests {
    use super::*;

    #[test]
    fn set_keeps_comments_and_layout() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        let text = "# my settings\nhf_home = \"/old\"   # big disk\n\n# models\ncustom_model_dir = \"~/m\"\n";
        std::fs::write(&p, text).unwrap();
        let mut c = Config::load(&p).unwrap();
        c.set_str("hf_home", "/new").unwrap();
        assert_eq!(
            c.render(),
            "# my settings\nhf_home = \"/new\"   # big disk\n\n# models\ncustom_model_dir = \"~/m\"\n"
        );
    }

    #[test]
    fn booleans_are_written_as_toml_booleans_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, "# keep\ntransformers_cache = true # mine\n").unwrap();
        let mut c = Config::load(&p).unwrap();
        c.set_bool("transformers_cache", false).unwrap();
        assert_eq!(c.render(), "# keep\ntransformers_cache = false # mine\n");
        std::fs::write(&p, c.render()).unwrap();
        assert_eq!(
            Config::load(&p)
                .unwrap()
                .get_bool("transformers_cache")
                .unwrap(),
            Some(false)
        );
        std::fs::write(&p, "transformers_cache = \"no\"\n").unwrap();
        assert_eq!(
            Config::load(&p)
                .unwrap()
                .get_bool("transformers_cache")
                .unwrap(),
            Some(false)
        );
        std::fs::write(&p, "transformers_cache = \"lots\"\n").unwrap();
        assert!(
            Config::load(&p)
                .unwrap()
                .get_bool("transformers_cache")
                .is_err()
        );
    }

    #[test]
    fn unknown_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(&dir.path().join("none.toml")).unwrap();
        let err = c.get_str("hf_hom").unwrap_err().to_string();
        assert!(err.contains("unknown config key `hf_hom`"), "{err}");
        assert!(err.contains("hf_home"), "{err}");
    }
}
