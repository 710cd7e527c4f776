//! `modelenv config path|get|set`.

use anyhow::Result;

use crate::cli::ConfigAction;
use crate::config::Config;
use crate::edit::{self, Edit};
use crate::settings::{Env, Overrides, Settings, expand_path};

pub fn run(settings: &Settings, env: &Env, action: &ConfigAction) -> Result<()> {
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
            let mut cfg = Config::load(&settings.config_path)?;
            cfg.set_str(key, value)?;
            // Refuse a value that would break every later run.
            if key == "headroom" {
                crate::units::parse_size(value)?;
            } else if !expand_path(value, &settings.home, env)?.is_absolute() {
                anyhow::bail!("`{key}` must be an absolute path or start with ~/, got {value:?}");
            }
            let e = Edit {
                path: settings.config_path.clone(),
                real: crate::fsutil::resolve_link(&settings.config_path)?,
                old: cfg.original().map(str::to_owned),
                new: Some(cfg.render()),
            };
            let _changes = super::begin_changes(settings, "config set")?;
            edit::apply(settings, "config", &[e])?;
            let _ = Settings::resolve(env, &settings.cwd, &Overrides::default())?;
        }
    }
    Ok(())
}
