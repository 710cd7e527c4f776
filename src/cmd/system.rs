//! `modelenv install --system` and `uninstall --system`: the exports in the startup files
//! every user's shells read, the locations in the system config every user's modelenv reads,
//! and an undo record of root's own (`Settings::system_state_dir`) that puts every system
//! file back byte for byte. Also what a user's own install says on such a machine.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::cli::{InstallArgs, UninstallArgs};
use crate::cmd::Exit;
use crate::config::Config;
use crate::edit::{self, Before, Edit, State};
use crate::fsutil;
use crate::settings::{Settings, Source};
use crate::shell::{self, Shell};
use crate::ui;

use super::show;

/// Refuses, before anything is read or changed, a system command run by another user.
fn require_root(command: &str) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if me != 0 {
        bail!(
            "`modelenv {command}` changes files every user reads (/etc) and must be run as root (uid {me} is not): `sudo modelenv {command} …`; nothing was changed"
        );
    }
    Ok(())
}

/// The shells to give the exports: those given, else every one installed here.
fn pick_shells(given: &[Shell]) -> Vec<Shell> {
    if !given.is_empty() {
        let mut v = given.to_vec();
        v.sort();
        v.dedup();
        return v;
    }
    shell::ALL
        .into_iter()
        .filter(|s| which::which(s.name()).is_ok())
        .collect()
}

pub fn install(settings: &Settings, args: &InstallArgs) -> Result<Exit> {
    require_root("install --system")?;
    let sys = settings.for_system();
    // Root's own config, environment or defaults are not a store for everyone.
    for (flag, p, source) in [
        ("--hf-home", &sys.hf_home, sys.hf_home_source),
        (
            "--custom-model-dir",
            &sys.custom_model_dir,
            sys.custom_model_dir_source,
        ),
    ] {
        if !matches!(source, Source::Flag | Source::System) {
            bail!(
                "install --system needs the shared locations: pass {flag} DIR (it would be {}, from {}); nothing was changed",
                p.display(),
                source.describe()
            );
        }
    }
    crate::settings::check_locations(&sys)?;
    for p in [&sys.hf_home, &sys.custom_model_dir] {
        if let Some(dir) = unreachable_by_others(p) {
            bail!(
                "{} is for every user, but only its owner can get through {}; choose a folder outside it, or open it to the users' group or to all (`chmod g+x` / `chmod a+x`); nothing was changed",
                p.display(),
                dir.display()
            );
        }
    }
    // Every user reads what this creates: folders 0755 and files 0644 whatever root's umask.
    // SAFETY: umask(2) only sets this process's file mode mask.
    unsafe { libc::umask(0o022) };
    let shells = pick_shells(&args.shells);
    // Planned and checked first, so a refusal changes nothing; planned again under the lock.
    let mut edits = plan_install(&sys, &shells)?;
    edit::check(&edits)?;
    let _changes = if args.dry_run {
        None
    } else {
        let c = super::begin_system_changes(&sys, "install --system")?;
        edits = plan_install(&sys, &shells)?;
        edit::check(&edits)?;
        Some(c)
    };
    let changed = super::user_changes(&sys, &edits, args.dry_run);
    if args.dry_run {
        if changed.is_empty() {
            ui::note("already installed for every user: nothing would change");
        } else {
            ui::note(format!(
                "dry run: {} file(s) would change; nothing was written",
                changed.len()
            ));
        }
        return Ok(Exit::Ok);
    }
    edit::apply(&sys, "install --system", &edits)?;
    for e in &changed {
        eprintln!("updated {}", show(&sys, &e.path));
    }
    if changed.is_empty() {
        eprintln!("already installed for every user: no file changed");
    }
    eprintln!(
        "HF_HOME={}  CUSTOM_MODEL_DIR={} for every user",
        sys.hf_home.display(),
        sys.custom_model_dir.display()
    );
    if shells.contains(&Shell::Bash) && shell::profile_reads_profile_d() != Some(true) {
        ui::warn(format!(
            "/etc/profile on this system does not source {}/*.sh: login bash and sh shells will not get the exports; source {}/modelenv.sh from /etc/profile",
            shell::PROFILE_D,
            shell::PROFILE_D
        ));
    }
    for e in edits.iter().filter(|e| e.new.is_some()) {
        if !e.real.starts_with(&sys.state_dir)
            && let Some(dir) = unreadable_by_others(&e.real)
        {
            ui::warn(format!(
                "{} cannot be read by other users ({} is not readable and searchable by all): `chmod a+rX {}`",
                e.path.display(),
                dir.display(),
                dir.display()
            ));
        }
    }
    ui::hint(
        "every user's new login shells get the shared locations; `modelenv doctor`, run as a user, checks them",
    );
    Ok(Exit::Ok)
}

/// The existing folder on the way to `p` (itself included) that other users cannot search.
/// Only its owner can get through (no search bit for group or others: root's home): a
/// folder restricted to a group, as a lab's store often is, passes.
fn unreachable_by_others(p: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    p.ancestors()
        .filter_map(|a| std::fs::metadata(a).ok().map(|m| (a, m)))
        .find(|(_, m)| m.is_dir() && m.permissions().mode() & 0o011 == 0)
        .map(|(a, _)| a.to_path_buf())
}

/// The file or folder on the way to `p` that other users cannot get through, if any.
fn unreadable_by_others(p: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |q: &Path| std::fs::metadata(q).ok().map(|m| m.permissions().mode());
    if mode(p).is_some_and(|m| m & 0o004 == 0) {
        return Some(p.to_path_buf());
    }
    p.ancestors()
        .skip(1)
        .find(|a| mode(a).is_some_and(|m| m & 0o005 != 0o005))
        .map(Path::to_path_buf)
}

/// Every file `install --system` changes: each shell's system startup files, the system
/// config, and the undo record. Reads only.
fn plan_install(sys: &Settings, shells: &[Shell]) -> Result<Vec<Edit>> {
    let mut state = State::load(&sys.state_dir)?;
    let mut edits = Vec::new();
    // The shells an earlier install --system gave the exports keep getting the current ones
    // (a later `--shell bash` with a new store must not leave zsh on the old).
    let mut shells = shells.to_vec();
    for shell in shell::ALL {
        let recorded = shell
            .system_targets()
            .is_ok_and(|ts| ts.iter().any(|t| state.files.contains_key(&t.path)));
        if recorded && !shells.contains(&shell) {
            shells.push(shell);
        }
    }
    for &shell in &shells {
        let targets = shell.system_targets()?;
        edits.extend(super::install::plan_blocks(
            sys,
            targets,
            &shell.render_system_block(sys),
            &mut state,
        )?);
    }
    let config = super::install::plan_config_file(
        sys,
        "# The model store shared by every user of this machine, written by `modelenv install --system`\n# (each user's own config and flags come first).\n",
        false,
    )?;
    if config.changes() && state.config_before.is_none() {
        state.config_before = Some(Before {
            text: config.old.clone(),
        });
    }
    if state.config_before.is_some() {
        state.config_written = config.new.clone();
    }
    edits.push(config);
    state.note_created_dirs(&edits);
    edits.push(state.edit(&sys.state_dir)?);
    Ok(edits)
}

pub fn uninstall(settings: &Settings, args: &UninstallArgs) -> Result<Exit> {
    require_root("uninstall --system")?;
    let sys = settings.for_system();
    let (mut edits, _) = plan_uninstall(&sys)?;
    edit::check(&edits)?;
    let (_changes, dirs) = if args.dry_run {
        (None, Vec::new())
    } else {
        let c = super::begin_system_changes(&sys, "uninstall --system")?;
        let (e, dirs) = plan_uninstall(&sys)?;
        edits = e;
        edit::check(&edits)?;
        (Some(c), dirs)
    };
    let changed = super::user_changes(&sys, &edits, args.dry_run);
    if args.dry_run {
        for d in State::load(&sys.state_dir)?.created_dirs {
            ui::note(format!(
                "would remove the folder {} if nothing else is in it",
                d.display()
            ));
        }
        ui::note(format!(
            "dry run: {} file(s) would change; nothing was written",
            changed.len()
        ));
        return Ok(Exit::Ok);
    }
    edit::apply(&sys, "uninstall --system", &edits)?;
    let removed = super::remove_empty_dirs(&sys, "uninstall --system", dirs)?;
    for e in &changed {
        let verb = if e.new.is_none() {
            "removed"
        } else {
            "restored"
        };
        eprintln!("{verb} {}", show(&sys, &e.path));
    }
    for d in &removed {
        eprintln!("removed the folder {}", d.display());
    }
    if changed.is_empty() {
        let blocks = system_files_with_blocks();
        if blocks.is_empty() {
            eprintln!("nothing to uninstall: install --system changed no file here");
        } else {
            ui::warn(format!(
                "no undo record in {} names them, but {} hold a modelenv block: left as they are (the record is gone, or another state folder has it); remove the blocks by hand",
                sys.state_dir.display(),
                blocks.join(", ")
            ));
            return Ok(Exit::Problems);
        }
    }
    Ok(Exit::Ok)
}

/// What `uninstall --system` changes: every file in the undo record back as it was (the files
/// install created removed), the system config back to its old bytes or removed, the record
/// emptied; and the folders install created, to remove once empty. Reads only.
fn plan_uninstall(sys: &Settings) -> Result<(Vec<Edit>, Vec<PathBuf>)> {
    let mut state = State::load(&sys.state_dir)?;
    let dirs = state.created_dirs.clone();
    let mut edits = Vec::new();
    for (path, rec) in std::mem::take(&mut state.files) {
        let created = rec.created;
        edits.extend(super::uninstall::plan_unblock(sys, path, &rec, created)?);
    }
    if let Some(before) = state.config_before.take() {
        let path = sys.config_path.clone();
        let real = fsutil::resolve_link(&path)?;
        let old = fsutil::read_optional(&real)?;
        let written = state.config_written.take();
        if written.is_some() && old != written {
            // Edited since install wrote it: the admin's, kept as it is.
            ui::warn(format!(
                "{} changed since install --system wrote it: left as it is (delete it, or put back what it held before, by hand)",
                path.display()
            ));
        } else {
            edits.push(Edit {
                path,
                real,
                old,
                new: before.text,
            });
        }
    }
    edits.push(state.edit(&sys.state_dir)?);
    Ok((edits, dirs))
}

/// The system startup files that hold a modelenv block.
fn system_files_with_blocks() -> Vec<String> {
    shell::ALL
        .into_iter()
        .filter_map(|s| s.system_targets().ok())
        .flatten()
        .filter(|t| holds_block(&t.path))
        .map(|t| t.path.display().to_string())
        .collect()
}

/// Whether a system startup file of `shell` exports the system store (holds the block).
pub fn exports_for(shell: Shell) -> bool {
    shell
        .system_targets()
        .is_ok_and(|ts| ts.iter().any(|t| holds_block(&t.path)))
}

fn holds_block(path: &Path) -> bool {
    fsutil::read_optional(path)
        .ok()
        .flatten()
        .is_some_and(|text| text.contains(crate::block::BEGIN))
}

/// Whether this user's locations are the system store's: the hub from the system config and
/// no folder of their own chosen by a flag or their config.
pub fn uses_system_store(settings: &Settings) -> bool {
    settings.hf_home_source == Source::System
        && !matches!(
            settings.custom_model_dir_source,
            Source::Flag | Source::Config
        )
}

/// The user's `bin_dir` (install.sh's `--bin-dir`, or their config's) when the system config
/// does not name the same folder: the PATH line a user of the system store still needs.
pub fn own_bin_dir(settings: &Settings) -> Option<PathBuf> {
    let dir = settings.bin_dir.clone()?;
    let system = Config::load(&settings.system_config_path)
        .ok()
        .and_then(|c| c.get_str("bin_dir").ok().flatten())
        .map(|s| crate::settings::expand_path(&s, &settings.home));
    (system.as_ref() != Some(&dir)).then_some(dir)
}

/// On a machine with a system store, says so in a user's install: its locations, the system
/// files that export them, and whether this install leaves them to those files (`on_system`)
/// or shadows them with the user's own.
pub fn tell_user(settings: &Settings, on_system: bool) {
    let Ok(cfg) = Config::load(&settings.system_config_path) else {
        return;
    };
    let Some(hf) = cfg.get_str("hf_home").ok().flatten() else {
        return;
    };
    let custom = cfg.get_str("custom_model_dir").ok().flatten();
    let files = system_files_with_blocks();
    let exported = if files.is_empty() {
        "no system startup file exports it".to_owned()
    } else {
        format!("exported for every user by {}", files.join(", "))
    };
    ui::note(format!(
        "this machine has a system store ({}): HF_HOME={hf}{}; {exported}",
        settings.system_config_path.display(),
        custom
            .map(|c| format!(" CUSTOM_MODEL_DIR={c}"))
            .unwrap_or_default()
    ));
    if on_system {
        let path = match own_bin_dir(settings) {
            Some(dir) => format!(
                " (only modelenv's folder {} goes on PATH in your shells)",
                show(settings, &dir)
            ),
            None => String::new(),
        };
        ui::note(format!(
            "using the system store: no exports or locations of your own written{path}, so your shells follow it (pass --hf-home/--custom-model-dir, or --shadow-system, for your own)"
        ));
    } else if uses_system_store(settings) {
        ui::note(
            "--shadow-system: your own exports and config repeat the system store's locations and keep them if the admin moves the store",
        );
    } else {
        for (name, p, source) in [
            ("HF_HOME", &settings.hf_home, settings.hf_home_source),
            (
                "CUSTOM_MODEL_DIR",
                &settings.custom_model_dir,
                settings.custom_model_dir_source,
            ),
        ] {
            if source != Source::System {
                ui::note(format!(
                    "your {name}={} ({}) shadows the system store's in your shells",
                    show(settings, p),
                    source.describe()
                ));
            }
        }
    }
}
