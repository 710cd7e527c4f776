//! `modelenv config path|get|set`.

use anyhow::Result;

use crate::cli::ConfigAction;
use crate::config::Config;
use crate::edit::{self, Edit};
use crate::settings::{Settings, expand_path};

pub fn run(settings: &Settings, action: &ConfigAction) -> Result<()> {
    match action {
        ConfigAction::Path => println!("{}", settings.config_path.display()),
        ConfigAction::Get { key } => {
            // Validate the key, then print the effective value.
            let raw = Config::load(&settings.config_path)?.get_str(key)?;
            match key.as_str() {
                "hf_home" => println!("{}", settings.hf_home.display()),
                "custom_model_dir" => println!("{}", settings.custom_model_dir.display()),
                "ollama_models" => println!("{}", settings.ollama_models.display()),
                // As the user wrote it (`100GB`), else what the default means.
                _ => println!(
                    "{}",
                    raw.unwrap_or_else(|| format!(
                        "10% of the disk, at most {} (default)",
                        crate::units::human_size(crate::settings::DEFAULT_HEADROOM_CAP)
                    ))
                ),
            }
        }
        ConfigAction::Set { key, value } => {
            if let Some(c) = value.chars().find(|c| c.is_control() && *c != '\t') {
                anyhow::bail!(
                    "the value contains the control character {c:?}, which no startup file, .env file or config can hold; nothing was changed"
                );
            }
            // Checked first, so a refusal changes nothing.
            Config::load(&settings.config_path)?.set_str(key, value)?;
            // Refuse a value that would break every later run.
            if key == "headroom" {
                crate::units::parse_size(value)?;
            } else if !expand_path(value, &settings.home).is_absolute() {
                anyhow::bail!("`{key}` must be an absolute path or start with ~/, got {value:?}");
            }
            // Read again under the lock (which install and uninstall take too), so that no
            // other edit of the file is lost.
            let _changes = super::begin_changes(settings, "config set")?;
            let mut cfg = Config::load(&settings.config_path)?;
            cfg.set_str(key, value)?;
            let e = Edit {
                path: settings.config_path.clone(),
                real: crate::fsutil::resolve_link(&settings.config_path)?,
                old: cfg.original().map(str::to_owned),
                new: Some(cfg.render()),
            };
            edit::apply(settings, "config", &[e])?;
        }
    }
    Ok(())
}
