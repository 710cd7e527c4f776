//! `modelenv config path|get|set`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{Cli, Command, ConfigAction};
use crate::cmd::Exit;
use crate::config::{self, Config};
use crate::edit::{self, Edit, State};
use crate::fsutil::resolve_existing;
use crate::settings::{Env, Overrides, Settings, expand_path, normalize};
use crate::shell::{self, Shell};
use crate::ui;

use super::show;

pub fn run(settings: &Settings, env: &Env, action: &ConfigAction) -> Result<Exit> {
    match action {
        ConfigAction::Path => println!("{}", settings.config_path.display()),
        ConfigAction::Get { key } => {
            // Validate the key, then print the effective value.
            let raw = Config::load(&settings.config_path)?.get_str(key);
            match key.as_str() {
                "hf_home" => println!("{}", settings.hf_home.display()),
                "custom_model_dir" => println!("{}", settings.custom_model_dir.display()),
                "ollama_models" => println!("{}", settings.ollama_models.display()),
                "transformers_cache" => println!("{}", settings.transformers_cache),
                "bin_dir" => match &settings.bin_dir {
                    Some(d) => println!("{}", d.display()),
                    None => println!("(not set)"),
                },
                // As the user wrote it (`100GB`), else what the default means.
                _ => println!(
                    "{}",
                    raw?.unwrap_or_else(|| format!(
                        "10% of the disk, at most {} (default)",
                        crate::units::human_size(crate::settings::DEFAULT_HEADROOM_CAP)
                    ))
                ),
            }
        }
        ConfigAction::Set { key, value, apply } => {
            let boolean = check_value(settings, key, value)?;
            // Refused before the lock too, so a refusal leaves not even a lock file behind
            // (checked again under it, with the values as they are then).
            check_layout_after(settings, key, value)?;
            // One lock for the whole command: the new value, and with --apply the install
            // and migrate it runs (they go on under it). Everything is read under it.
            let _changes = super::begin_changes(settings, "config set")?;
            let before = Settings::resolve_lenient(
                env,
                &settings.cwd,
                &Overrides::default(),
                &mut Vec::new(),
            )?;
            let mut state = State::load(&before.state_dir)?;
            check_layout_after(&before, key, value)?;
            if key == "hf_home" {
                let new_home = normalize(&expand_path(value, &before.home));
                check_new_hf_home(&before, &state, &new_home)?;
                let old = before.hub_cache();
                if crate::stores::hub::repo_folder_count(&old) > 0
                    && resolve_existing(&old) != resolve_existing(&new_home.join("hub"))
                    && !state.old_hub_caches.contains(&old)
                {
                    state.old_hub_caches.push(old);
                }
            }
            write(&before, key, value, boolean, &state)?;
            return next_steps(&before, env, key, *apply);
        }
    }
    Ok(Exit::Ok)
}

/// Refuses a new `hf_home` or `custom_model_dir` that would put CUSTOM_MODEL_DIR inside a
/// library's cache ([`crate::settings::check_layout`]).
fn check_layout_after(settings: &Settings, key: &str, value: &str) -> Result<()> {
    let mut after = settings.clone();
    let new = normalize(&expand_path(value, &settings.home));
    match key {
        "hf_home" => after.hf_home = new,
        "custom_model_dir" => after.custom_model_dir = new,
        _ => return Ok(()),
    }
    crate::settings::check_layout(&after)
}

/// Refuses a value that could not be read back, before anything changes.
fn check_value(settings: &Settings, key: &str, value: &str) -> Result<Option<bool>> {
    if let Some(c) = value.chars().find(|c| c.is_control() && *c != '\t') {
        anyhow::bail!(
            "the value contains the control character {c:?}, which no startup file, .env file or config can hold; nothing was changed"
        );
    }
    Config::load(&settings.config_path)?
        .get_str(key)
        .map(drop)
        .or_else(|e| {
            // A key that holds a boolean today is still a known key.
            if config::KEYS.iter().any(|(k, _)| *k == key) {
                Ok(())
            } else {
                Err(e)
            }
        })?;
    Ok(match key {
        "headroom" => {
            crate::units::parse_size(value)?;
            None
        }
        "transformers_cache" => Some(config::parse_bool(value).context("transformers_cache")?),
        _ if !expand_path(value, &settings.home).is_absolute() => {
            anyhow::bail!("`{key}` must be an absolute path or start with ~/, got {value:?}")
        }
        "bin_dir" if value.contains(':') => anyhow::bail!(
            "`bin_dir` {value:?}: a `:` would split it into two PATH entries (one of them relative); nothing was changed"
        ),
        _ => None,
    })
}

/// A new HF_HOME must be a folder (or not exist yet), and must not lie inside a hub cache
/// that still holds models, nor hold one (migrate could not merge it): refused by identity,
/// before anything changes.
fn check_new_hf_home(before: &Settings, state: &State, new_home: &Path) -> Result<()> {
    if new_home.exists() && !new_home.is_dir() {
        anyhow::bail!(
            "hf_home {}: not a folder; nothing was changed",
            new_home.display()
        );
    }
    let mut after = before.clone();
    after.hf_home = new_home.to_path_buf();
    let (new_real, new_hub) = (
        resolve_existing(new_home),
        resolve_existing(&after.hub_cache()),
    );
    let mut olds = vec![before.hub_cache()];
    olds.extend(state.old_hub_caches.iter().cloned());
    for old in olds {
        let repos = crate::stores::hub::repo_folder_count(&old);
        let old_real = resolve_existing(&old);
        if repos == 0 || old_real == new_hub {
            continue;
        }
        let clash = if new_real.starts_with(&old_real) {
            Some("lies inside")
        } else if old_real.starts_with(&new_real) {
            Some("would hold")
        } else {
            crate::migrate::central_overlap(&after, &old_real, &[]).map(|_| "overlaps")
        };
        if let Some(how) = clash {
            anyhow::bail!(
                "hf_home {}: it {how} the hub cache {}, which holds {repos} repo folder(s) that could then not be merged; choose a folder outside it (nothing was changed)",
                new_home.display(),
                old.display()
            );
        }
    }
    Ok(())
}

/// Writes the value (and the record of an old hub cache) in one transaction.
fn write(
    settings: &Settings,
    key: &str,
    value: &str,
    boolean: Option<bool>,
    state: &State,
) -> Result<()> {
    let mut cfg = Config::load(&settings.config_path)?;
    match boolean {
        Some(b) => cfg.set_bool(key, b)?,
        None => cfg.set_str(key, value)?,
    }
    let e = Edit {
        path: settings.config_path.clone(),
        real: crate::fsutil::resolve_link(&settings.config_path)?,
        old: cfg.original().map(str::to_owned),
        new: Some(cfg.render()),
    };
    let changed = e.changes();
    edit::apply(settings, "config", &[e, state.edit(&settings.state_dir)?])?;
    if changed {
        eprintln!("set {key} in {}", show(settings, &settings.config_path));
    } else {
        eprintln!(
            "{key} already has that value in {}",
            show(settings, &settings.config_path)
        );
    }
    Ok(())
}

/// What the new value leaves out of step, with the command that fixes each, or (`--apply`)
/// those commands run.
fn next_steps(before: &Settings, env: &Env, key: &str, apply: bool) -> Result<Exit> {
    let mut problems = Vec::new();
    let after = Settings::resolve_lenient(env, &before.cwd, &Overrides::default(), &mut problems)?;
    let stale = stale_files(&after)?;
    for (path, why) in &stale.unwritable {
        ui::warn(format!(
            "{} keeps the old value: {why:#}",
            show(&after, path)
        ));
    }
    let mut exit = Exit::Ok;
    if !stale.files.is_empty() {
        let names: Vec<String> = stale.files.iter().map(|p| show(&after, p)).collect();
        if apply {
            eprintln!("updating {}", names.join(", "));
            exit = worst(exit, reinstall(&after, env, &stale)?);
        } else {
            ui::hint(format!(
                "{} still {} the old value: run `modelenv install{}`{}, or this command again with --apply",
                names.join(", "),
                if names.len() == 1 { "has" } else { "have" },
                stale
                    .shells
                    .iter()
                    .map(|s| format!(" --shell {s}"))
                    .collect::<String>(),
                if stale.dotenv.is_empty() {
                    String::new()
                } else {
                    " (with --repo for each repo's .env.example)".to_owned()
                }
            ));
        }
    }
    match key {
        "hf_home" => {
            // The stores earlier values left with models (recorded when the value changed, so
            // a later run with --apply still finds them); never one the new value names.
            let mut state = State::load(&after.state_dir)?;
            let new_hub = resolve_existing(&after.hub_cache());
            let mut seen = Vec::new();
            for old in state.old_hub_caches.clone() {
                let real = resolve_existing(&old);
                if real == new_hub || seen.contains(&real) {
                    continue;
                }
                seen.push(real);
                exit = worst(exit, old_store(&after, env, &old, apply)?);
            }
            // What else lives in HF_HOME: the login token and the datasets cache stay behind.
            if !same_home(before, &after) {
                let token = before.hf_home.join("token");
                if token.is_file() && !after.hf_home.join("token").exists() {
                    ui::note(format!(
                        "your Hugging Face login ({}) stays in the old HF_HOME: `cp {} {}` (or log in again with `hf auth login`)",
                        show(&after, &token),
                        shell_word(&token),
                        shell_word(&after.hf_home.join("token"))
                    ));
                }
                let datasets = before.datasets_cache();
                if std::fs::read_dir(&datasets).is_ok_and(|mut d| d.next().is_some()) {
                    ui::note(format!(
                        "the datasets cache {} stays where it is (datasets rebuilds it on demand in the new HF_HOME); delete it when you no longer need it",
                        show(&after, &datasets)
                    ));
                }
            }
            // Merged (or emptied) stores are forgotten.
            let before_len = state.old_hub_caches.len();
            state.old_hub_caches.retain(|o| {
                crate::stores::hub::repo_folder_count(o) > 0 && resolve_existing(o) != new_hub
            });
            if state.old_hub_caches.len() != before_len {
                edit::apply(&after, "config", &[state.edit(&after.state_dir)?])?;
            }
        }
        "custom_model_dir" => {
            let old = &before.custom_model_dir;
            let entries = std::fs::read_dir(old).map(|d| d.count()).unwrap_or(0);
            if *old != after.custom_model_dir && entries > 0 {
                ui::note(format!(
                    "{} still holds {entries} entr{}; modelenv does not move CUSTOM_MODEL_DIR's contents: move them with `mv` or set the old folder back",
                    show(&after, old),
                    if entries == 1 { "y" } else { "ies" }
                ));
            }
        }
        "ollama_models" => ui::note(
            "the Ollama server reads OLLAMA_MODELS from its own environment: `modelenv doctor` shows what it uses and the exact lines to change",
        ),
        _ => {}
    }
    if stale.files.is_empty() && !apply && key != "headroom" {
        ui::note("startup files and .env files set up by install already agree");
    }
    Ok(exit)
}

/// Names the models left in a hub cache the libraries no longer use, or (`--apply`) merges them.
fn old_store(after: &Settings, env: &Env, old: &Path, apply: bool) -> Result<Exit> {
    let repos = crate::stores::hub::repo_folder_count(old);
    if repos == 0 {
        return Ok(Exit::Ok);
    }
    if apply {
        eprintln!(
            "moving the {repos} repo folder(s) of {} into {}",
            show(after, old),
            show(after, &after.hub_cache())
        );
        return migrate_store(after, env, old);
    }
    ui::hint(format!(
        "{} still holds {repos} repo folder(s) the libraries no longer find: `modelenv migrate --store {} --apply` moves them into {} (dry run without --apply)",
        show(after, old),
        shell_word(old),
        show(after, &after.hub_cache())
    ));
    Ok(Exit::Ok)
}

fn same_home(a: &Settings, b: &Settings) -> bool {
    resolve_existing(&a.hf_home) == resolve_existing(&b.hf_home)
}

fn worst(a: Exit, b: Exit) -> Exit {
    match (a, b) {
        (Exit::Ok, Exit::Ok) => Exit::Ok,
        _ => Exit::Problems,
    }
}

/// The startup files and `.env` files install set up whose content the new settings change.
struct Stale {
    shells: Vec<Shell>,
    dotenv: Vec<PathBuf>,
    files: Vec<PathBuf>,
    /// `.env` files install set up that cannot take the new value, with the reason.
    unwritable: Vec<(PathBuf, anyhow::Error)>,
}

fn stale_files(settings: &Settings) -> Result<Stale> {
    let state = State::load(&settings.state_dir)?;
    let mut out = Stale {
        shells: Vec::new(),
        dotenv: Vec::new(),
        files: Vec::new(),
        unwritable: Vec::new(),
    };
    for shell in shell::ALL {
        let installed = shell
            .all_candidate_files(settings)
            .iter()
            .any(|p| state.files.get(p).is_some_and(|r| r.own_block));
        if !installed {
            continue;
        }
        let edits = super::install::plan_profile(settings, shell, &mut state.clone())?;
        let changed: Vec<PathBuf> = edits
            .iter()
            .filter(|e| e.changes())
            .map(|e| e.path.clone())
            .collect();
        if !changed.is_empty() {
            out.shells.push(shell);
            out.files.extend(changed);
        }
    }
    for path in &state.dotenv_files {
        match super::install::plan_dotenv(settings, path, &mut state.clone()) {
            Ok(e) if e.changes() => {
                out.dotenv.push(path.clone());
                out.files.push(path.clone());
            }
            Ok(_) => {}
            Err(e) => out.unwritable.push((path.clone(), e)),
        }
    }
    Ok(out)
}

/// install again for the shells and `.env` files it set up, with the new settings.
fn reinstall(settings: &Settings, env: &Env, stale: &Stale) -> Result<Exit> {
    let mut argv = vec!["modelenv".to_owned(), "install".to_owned()];
    for s in &stale.shells {
        argv.extend(["--shell".to_owned(), s.to_string()]);
    }
    if stale.shells.is_empty() {
        argv.push("--no-modify-profile".to_owned());
    }
    argv.push("--no-doctor".to_owned());
    let Command::Install(mut args) = Cli::try_parse_from(&argv)?.command else {
        unreachable!("parsed an install command");
    };
    args.dotenv_files = Some(stale.dotenv.clone());
    super::install::run(settings, env, &args)
}

fn migrate_store(settings: &Settings, env: &Env, old_hub: &Path) -> Result<Exit> {
    let argv = [
        "modelenv",
        "migrate",
        "--store",
        &old_hub.to_string_lossy(),
        "--apply",
    ];
    let Command::Migrate(args) = Cli::try_parse_from(argv)?.command else {
        unreachable!("parsed a migrate command");
    };
    super::migrate::run(settings, env, &args)
}

/// A path as one shell word.
fn shell_word(p: &Path) -> String {
    let s = p.to_string_lossy();
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@%".contains(&b))
    {
        return s.into_owned();
    }
    Shell::Bash.quote(&s)
}
