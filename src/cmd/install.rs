//! `modelenv install`: the managed block in each shell's startup files, the managed keys in the
//! repo's root `.env.example`, the chosen locations in the config file; then the doctor.

use crate::cmd::Exit;
use std::path::Path;

use anyhow::{Context, Result};

use crate::block::{self, At};
use crate::cli::{DoctorArgs, InstallArgs};
use crate::config::Config;
use crate::dotenv;
use crate::edit::{self, Edit, State};
use crate::fsutil;
use crate::repo;
use crate::settings::{Env, Settings};
use crate::shell::{Placement, Shell};
use crate::ui;

use super::show;

pub fn run(settings: &Settings, env: &Env, args: &InstallArgs) -> Result<Exit> {
    // Without shell files to edit, `$SHELL` only picks the hint shown at the end.
    let shells = if args.no_modify_profile {
        Shell::pick(&args.shells, settings).unwrap_or_default()
    } else {
        Shell::pick(&args.shells, settings)?
    };
    crate::settings::check_locations(settings)?;
    // Planned and checked first, so a refusal changes nothing (not even the lock file); then
    // planned again under the lock, so that what is written comes from the files and the undo
    // record as they are with no other install, uninstall or `config set` running (and after
    // an interrupted earlier run was finished).
    let mut edits = plan_edits(settings, &shells, args, true)?;
    edit::check(&edits)?;
    let _changes = if args.dry_run {
        None
    } else {
        let c = super::begin_changes(settings, "install")?;
        edits = plan_edits(settings, &shells, args, false)?;
        edit::check(&edits)?;
        Some(c)
    };
    let changed = super::user_changes(settings, &edits, args.dry_run);
    if args.dry_run {
        super::default_link::install(settings, true)?;
        if changed.is_empty() {
            ui::note("already installed: nothing would change");
        } else {
            ui::note(format!(
                "dry run: {} file(s) would change; nothing was written",
                changed.len()
            ));
        }
        return Ok(Exit::Ok);
    }
    edit::apply(settings, "install", &edits)?;
    super::default_link::install(settings, false)?;
    for e in &changed {
        let via = if e.real != e.path {
            format!(" (through the link, in {})", show(settings, &e.real))
        } else {
            String::new()
        };
        eprintln!("updated {}{via}", show(settings, &e.path));
    }
    if changed.is_empty() {
        eprintln!("already installed: no file changed");
    }
    eprintln!(
        "HF_HOME={} ({})  CUSTOM_MODEL_DIR={} ({})",
        show(settings, &settings.hf_home),
        settings.hf_home_source.describe(),
        show(settings, &settings.custom_model_dir),
        settings.custom_model_dir_source.describe()
    );
    for w in &settings.unexpressible {
        ui::warn(w);
    }
    if args.no_modify_profile {
        if shells.is_empty() {
            ui::hint(
                "shell files left alone; add `eval \"$(modelenv init bash)\"` (or zsh, or `modelenv init fish | source`) to your shell's startup",
            );
        }
        for shell in &shells {
            ui::hint(format!(
                "shell files left alone; add this to your {shell} startup: {}",
                match shell {
                    Shell::Fish => "modelenv init fish | source".to_owned(),
                    s => format!("eval \"$(modelenv init {s})\""),
                }
            ));
        }
    } else {
        warn_if_env_differs(settings, env);
        ui::hint("open a new terminal (or start a new shell) for the variables to take effect");
    }
    if args.no_doctor {
        return Ok(Exit::Ok);
    }
    eprintln!("install done; the doctor checks the result:");
    eprintln!();
    let found = super::doctor::run(
        settings,
        env,
        &DoctorArgs {
            json: false,
            shells: if args.no_modify_profile {
                vec![]
            } else {
                shells
            },
            repo: args.repo.clone(),
            pythons: Vec::new(),
            no_probe: false,
            timeout: 20,
            skip_shells: args.no_modify_profile,
        },
    )?;
    if matches!(found, Exit::Problems) {
        ui::note(
            "install itself succeeded (the files above are written); the doctor's failures are other problems, each with its fix (exit status 1 reports them)",
        );
    }
    Ok(found)
}

/// Every file install changes and how: the startup files, `.env.example`, the config and the
/// undo record. Reads only.
fn plan_edits(
    settings: &Settings,
    shells: &[Shell],
    args: &InstallArgs,
    talk: bool,
) -> Result<Vec<Edit>> {
    let mut state = State::load(&settings.state_dir)?;
    let mut edits = Vec::new();

    if !args.no_modify_profile {
        for &shell in shells {
            edits.extend(plan_profile(settings, shell, &mut state)?);
        }
    }
    if let Some(files) = &args.dotenv_files {
        for path in files {
            match plan_dotenv(settings, path, &mut state) {
                Ok(e) => edits.push(e),
                Err(e) if talk => ui::warn(format!("skipping {}: {e:#}", show(settings, path))),
                Err(_) => {}
            }
        }
        edits.push(plan_config(settings)?);
        edits.push(state.edit(&settings.state_dir)?);
        return Ok(edits);
    }
    let repo_root = match &args.repo {
        Some(r) => Some(
            settings
                .absolute(r)
                .canonicalize()
                .with_context(|| format!("--repo {}", r.display()))?,
        ),
        None => repo::git_root(&settings.cwd),
    };
    match &repo_root {
        // A .env.example modelenv cannot edit exactly (a location .env loaders would read
        // differently, a file python-dotenv cannot parse) must not block the shell setup: it
        // is left as it is, with the reason.
        Some(root) => {
            let path = root.join(".env.example");
            match plan_dotenv(settings, &path, &mut state) {
                Ok(e) => edits.push(e),
                Err(e) if talk => ui::warn(format!("skipping {}: {e:#}", show(settings, &path))),
                Err(_) => {}
            }
        }
        None if talk => {
            ui::note("not inside a git repository: skipping .env.example (pass --repo DIR)")
        }
        None => {}
    }
    edits.push(plan_config(settings)?);
    edits.push(state.edit(&settings.state_dir)?);
    Ok(edits)
}

/// The edits that put the block into every startup file `shell` needs.
pub fn plan_profile(settings: &Settings, shell: Shell, state: &mut State) -> Result<Vec<Edit>> {
    let block_text = shell.render_block(settings);
    let mut edits = Vec::new();
    for target in shell.targets(settings) {
        let real = fsutil::resolve_link(&target.path)?;
        let old = fsutil::read_optional(&real)?;
        let text = old.as_deref().unwrap_or("");
        let what = show(settings, &target.path);
        let at = match target.placement {
            Placement::BeforeGuard => block::bash_guard_line(text).map_or(At::End, At::Line),
            Placement::Append => At::End,
        };
        let (new, added_eol) = block::upsert(text, &block_text, at, &what)?;
        if new.as_str() != text || old.is_none() {
            // A block modelenv did not write here (synced dotfiles, a copied file) is the
            // user's: kept in the undo record and put back by uninstall.
            let foreign = match state.files.get(&target.path) {
                Some(r) if r.own_block => None,
                Some(r) => r.foreign_block.clone(),
                None => block::text_of(text, &what)?,
            };
            let rec = state
                .files
                .entry(target.path.clone())
                .or_insert_with(|| dotenv::Originals {
                    created: old.is_none(),
                    ..Default::default()
                });
            rec.added_eol |= added_eol;
            if rec.foreign_block.is_none() {
                rec.foreign_block = foreign;
            }
            rec.own_block = true;
        }
        edits.push(Edit {
            path: target.path,
            real,
            old,
            new: Some(new),
        });
    }
    Ok(edits)
}

pub fn plan_dotenv(settings: &Settings, path: &Path, state: &mut State) -> Result<Edit> {
    let real = fsutil::resolve_link(path)?;
    let old = fsutil::read_optional(&real)?;
    let mut rec = state.files.get(path).cloned().unwrap_or(dotenv::Originals {
        created: old.is_none(),
        ..Default::default()
    });
    let new = dotenv::apply(
        old.as_deref().unwrap_or(""),
        settings,
        &mut rec,
        &show(settings, path),
    )?;
    if old.as_deref() != Some(new.as_str()) || state.files.contains_key(path) {
        state.files.insert(path.to_path_buf(), rec);
        if !state.dotenv_files.iter().any(|p| p == path) {
            state.dotenv_files.push(path.to_path_buf());
        }
    }
    Ok(Edit {
        path: path.to_path_buf(),
        real,
        old,
        new: Some(new),
    })
}

/// Records the chosen locations so `init` and `doctor` agree with what was installed.
fn plan_config(settings: &Settings) -> Result<Edit> {
    let mut cfg = Config::load(&settings.config_path)?;
    let current = |key: &str| cfg.get_str(key);
    let hf = settings.tilde(&settings.hf_home);
    let custom = settings.tilde(&settings.custom_model_dir);
    let (hf_now, custom_now) = (current("hf_home")?, current("custom_model_dir")?);
    // Keep the user's own spelling when it already means the same location.
    if hf_now.is_none() || settings.hf_home_source == crate::settings::Source::Flag {
        cfg.set_str("hf_home", &hf)?;
    }
    if custom_now.is_none() || settings.custom_model_dir_source == crate::settings::Source::Flag {
        cfg.set_str("custom_model_dir", &custom)?;
    }
    // `--bin-dir` is remembered, so a later install (or `config set --apply`) keeps the line.
    if let Some(dir) = &settings.bin_dir
        && cfg
            .get_str("bin_dir")?
            .is_none_or(|now| crate::settings::expand_path(&now, &settings.home) != *dir)
    {
        cfg.set_str("bin_dir", &settings.tilde(dir))?;
    }
    let new = cfg.render();
    let new = if cfg.original().is_none() {
        format!(
            "# modelenv's central locations (`modelenv config set KEY VALUE` edits this file).\n{new}"
        )
    } else {
        new
    };
    Ok(Edit {
        path: settings.config_path.clone(),
        real: fsutil::resolve_link(&settings.config_path)?,
        old: cfg.original().map(str::to_owned),
        new: Some(new),
    })
}

fn warn_if_env_differs(settings: &Settings, env: &Env) {
    for (name, want) in settings.exports() {
        if let Some(have) = env.get(name)
            && !have.is_empty()
            && Path::new(have) != want
        {
            ui::warn(format!(
                "{name} is {have} in this shell; new shells will use {} (pass --hf-home/--custom-model-dir to keep the current one)",
                show(settings, &want)
            ));
        }
    }
}
