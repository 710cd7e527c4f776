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
    fn unknown_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(&dir.path().join("none.toml")).unwrap();
        let err = c.get_str("hf_hom").unwrap_err().to_string();
        assert!(err.contains("unknown config key `hf_hom`"), "{err}");
        assert!(err.contains("hf_home"), "{err}");
    }
}
