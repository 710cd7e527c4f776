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
    if args.system {
        return super::system::install(settings, args);
    }
    // Without shell files to edit, `$SHELL` only picks the hint shown at the end.
    let shells = if args.no_modify_profile {
        Shell::pick(&args.shells, settings).unwrap_or_default()
    } else {
        Shell::pick(&args.shells, settings)?
    };
    crate::settings::check_locations(settings)?;
    // On a machine with a system store, the user's shells already get it from the system's
    // startup files: a per-user block and config would only shadow it (and keep a copy of
    // today's value after the admin moves the store), so they are written only when asked.
    let on_system = super::system::uses_system_store(settings) && !args.shadow_system;
    super::system::tell_user(settings, on_system);
    // Planned and checked first, so a refusal changes nothing (not even the lock file); then
    // planned again under the lock, so that what is written comes from the files and the undo
    // record as they are with no other install, uninstall or `config set` running (and after
    // an interrupted earlier run was finished).
    let mut edits = plan_edits(settings, &shells, args, on_system, true)?;
    edit::check(&edits)?;
    let changes = if args.dry_run {
        None
    } else {
        let c = super::begin_changes(settings, "install")?;
        // The locations come from the config as it was before the lock: a `config set` that
        // ran meanwhile would make this install write the old ones.
        if let Some(key) = config_disagrees(settings)? {
            anyhow::bail!(
                "`{key}` in {} changed while install was starting (another `modelenv config set`?); nothing was changed: run install again",
                show(settings, &settings.config_path)
            );
        }
        edits = plan_edits(settings, &shells, args, on_system, false)?;
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
    // Contexts the system's startup files do not reach (cron, systemd user services) still
    // get the link and environment.d file: they repeat nothing the system files give.
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
    if on_system {
        ui::hint(
            "new login shells get the system store's locations from the system's startup files",
        );
    } else if args.no_modify_profile {
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
    // The doctor starts shells and interpreters: not while holding the lock (a child between
    // fork and exec holds a copy of the lock's descriptor, and the doctor changes nothing).
    drop(changes);
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
    on_system: bool,
    talk: bool,
) -> Result<Vec<Edit>> {
    let mut state = State::load(&settings.state_dir)?;
    let mut edits = Vec::new();

    // On the system store, a shell whose system files do not export it (installed later,
    // left out of install --system) gets the user's own block.
    let (own, follow): (Vec<Shell>, Vec<Shell>) = shells
        .iter()
        .partition(|s| !on_system || !super::system::exports_for(**s));
    if !args.no_modify_profile {
        for &shell in &own {
            if on_system && talk {
                ui::note(format!(
                    "no system startup file gives {shell} the system store: your own block gives it its locations"
                ));
            }
            edits.extend(plan_profile(settings, shell, &mut state)?);
        }
    }
    if !args.no_modify_profile
        && !follow.is_empty()
        && let Some(dir) = super::system::own_bin_dir(settings)
    {
        // The system files give the locations; modelenv's own folder still needs PATH.
        for &shell in &follow {
            let system_file = match shell {
                Shell::Fish => shell.system_targets().ok().and_then(|t| t.first().cloned()),
                _ => None,
            };
            edits.extend(plan_blocks(
                settings,
                shell.targets(settings),
                &shell.render_path_block(
                    &dir,
                    system_file.as_ref().map(|t| t.path.as_path()),
                    settings,
                ),
                &mut state,
            )?);
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
        note_folders(settings, &mut state, &edits);
        edits.push(plan_config(settings, on_system)?);
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
    note_folders(settings, &mut state, &edits);
    edits.push(plan_config(settings, on_system)?);
    edits.push(state.edit(&settings.state_dir)?);
    Ok(edits)
}

/// Records the folders install makes for the user's files and for the environment.d file and
/// the default-location link, so uninstall removes them once empty; modelenv's own config
/// stays after uninstall, and so does its folder.
fn note_folders(settings: &Settings, state: &mut State, edits: &[Edit]) {
    state.note_created_dirs(edits);
    for dir in super::default_link::folders_used(settings) {
        state.note_missing_dirs(&dir);
    }
}

/// The edits that put the block into every startup file `shell` needs.
pub fn plan_profile(settings: &Settings, shell: Shell, state: &mut State) -> Result<Vec<Edit>> {
    plan_blocks(
        settings,
        shell.targets(settings),
        &shell.render_block(settings),
        state,
    )
}

/// The edits that put `block_text` into each target file (in place of its block, or where the
/// target says), each recorded in `state` so uninstall can put the file back byte for byte.
pub fn plan_blocks(
    settings: &Settings,
    targets: Vec<crate::shell::Target>,
    block_text: &str,
    state: &mut State,
) -> Result<Vec<Edit>> {
    let mut edits = Vec::new();
    for target in targets {
        let real = fsutil::resolve_link(&target.path)?;
        let old = fsutil::read_optional(&real)?;
        let text = old.as_deref().unwrap_or("");
        let what = show(settings, &target.path);
        let at = match target.placement {
            Placement::BeforeGuard => block::bash_guard_line(text).map_or(At::End, At::Line),
            Placement::Append => At::End,
        };
        let (new, added_eol) = block::upsert(text, block_text, at, &what)?;
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

/// Records the chosen locations so `init` and `doctor` agree with what was installed. With
/// `skip_system`, a location that comes from the system config is left out, so the user's
/// config does not pin a copy of it.
fn plan_config(settings: &Settings, skip_system: bool) -> Result<Edit> {
    plan_config_file(
        settings,
        "# modelenv's central locations (`modelenv config set KEY VALUE` edits this file).\n",
        skip_system,
    )
}

/// The edit that records the chosen locations in `settings.config_path` (a new file starts
/// with `header`); keys already there that mean the same location keep their spelling.
pub fn plan_config_file(settings: &Settings, header: &str, skip_system: bool) -> Result<Edit> {
    use crate::settings::Source;
    let mut cfg = Config::load(&settings.config_path)?;
    let mut changed = false;
    for (key, p, source) in [
        ("hf_home", &settings.hf_home, settings.hf_home_source),
        (
            "custom_model_dir",
            &settings.custom_model_dir,
            settings.custom_model_dir_source,
        ),
    ] {
        if skip_system && source == Source::System {
            continue;
        }
        // Keep the user's own spelling when it already means the same location.
        if cfg.get_str(key)?.is_none() || source == Source::Flag {
            cfg.set_str(key, &settings.tilde(p))?;
            changed = true;
        }
    }
    // `--bin-dir` is remembered, so a later install (or `config set --apply`) keeps the line;
    // the system config's own is not copied.
    let from_system = |dir: &Path| {
        skip_system
            && Config::load(&settings.system_config_path)
                .ok()
                .and_then(|c| c.get_str("bin_dir").ok().flatten())
                .is_some_and(|s| crate::settings::expand_path(&s, &settings.home) == dir)
    };
    if let Some(dir) = &settings.bin_dir
        && cfg
            .get_str("bin_dir")?
            .is_none_or(|now| crate::settings::expand_path(&now, &settings.home) != *dir)
        && !(cfg.get_str("bin_dir")?.is_none() && from_system(dir))
    {
        cfg.set_str("bin_dir", &settings.tilde(dir))?;
        changed = true;
    }
    let new = match cfg.original() {
        None if !changed => None,
        None => Some(format!("{header}{}", cfg.render())),
        Some(_) => Some(cfg.render()),
    };
    Ok(Edit {
        path: settings.config_path.clone(),
        real: fsutil::resolve_link(&settings.config_path)?,
        old: cfg.original().map(str::to_owned),
        new,
    })
}

/// A key of the config as it is now whose value is not what these settings hold (read before
/// the lock: another `config set` ran meanwhile). An interrupted install that was just
/// finished rewrites the file with the same values, which is no disagreement.
fn config_disagrees(settings: &Settings) -> Result<Option<&'static str>> {
    use crate::settings::{Source, expand_path, normalize};
    if fsutil::read_optional(&settings.config_path)? == settings.config_text {
        return Ok(None);
    }
    let cfg = Config::load(&settings.config_path)?;
    let path = |key: &str| -> Result<Option<std::path::PathBuf>> {
        Ok(cfg
            .get_str(key)?
            .map(|v| normalize(&expand_path(&v, &settings.home))))
    };
    let differs = |now: Option<std::path::PathBuf>, have: &std::path::Path, source: Source| {
        source != Source::Flag && now.is_some_and(|n| n != have)
    };
    if differs(path("hf_home")?, &settings.hf_home, settings.hf_home_source) {
        return Ok(Some("hf_home"));
    }
    if differs(
        path("custom_model_dir")?,
        &settings.custom_model_dir,
        settings.custom_model_dir_source,
    ) {
        return Ok(Some("custom_model_dir"));
    }
    if let Some(b) = path("bin_dir")?
        && settings.bin_dir.as_ref() != Some(&b)
    {
        return Ok(Some("bin_dir"));
    }
    if cfg
        .get_bool("transformers_cache")?
        .is_some_and(|t| t != settings.transformers_cache)
    {
        return Ok(Some("transformers_cache"));
    }
    Ok(None)
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
