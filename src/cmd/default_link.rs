//! The remedy for contexts that read no startup file (`sh -c`, `bash -c`, cron, services):
//! they use the libraries' default `~/.cache/huggingface`, so when the central store is
//! elsewhere, install makes that default location a symbolic link to it, but only when the
//! default location does not exist or is an empty folder. The link is recorded in
//! `<state>/default-link`; uninstall removes it only while it still is that link.
//!
//! systemd user services and desktop sessions read `~/.config/environment.d/*.conf`
//! (environment.d(5)): install writes the exports to `60-modelenv.conf` there too (a file
//! of its own, marked by its first line, which uninstall deletes).

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::cmd::show;
use crate::fsops::{Plan, Root, Run};
use crate::settings::Settings;

/// Where the libraries look with no variable set: HOME/.cache/huggingface.
pub fn default_location(settings: &Settings) -> PathBuf {
    settings.home.join(".cache/huggingface")
}

fn record(settings: &Settings) -> PathBuf {
    settings.state_dir.join("default-link")
}

/// What install would do: `Some((link, target))` when the default location is absent or an
/// empty folder and the central store is elsewhere. Reads only.
pub fn planned(settings: &Settings) -> Option<(PathBuf, PathBuf)> {
    let d = default_location(settings);
    let central = &settings.hf_home;
    if crate::cmd::doctor::same_path(&d, central) || central.starts_with(&d) {
        return None;
    }
    match d.symlink_metadata() {
        Err(_) => Some((d, central.clone())),
        // The link install made to an earlier central store follows the new one.
        Ok(m) if m.file_type().is_symlink() && is_our_link(settings, &d) => {
            Some((d, central.clone()))
        }
        Ok(m) if m.is_dir() && std::fs::read_dir(&d).is_ok_and(|mut r| r.next().is_none()) => {
            Some((d, central.clone()))
        }
        Ok(_) => None,
    }
}

/// The folders install puts the environment.d file and the link in (`~/.config/
/// environment.d`, `~/.cache`), recorded, with the missing ones above them, so uninstall
/// removes those it made once they are empty. Reads only.
pub fn folders_used(settings: &Settings) -> Vec<PathBuf> {
    let mut parents = Vec::new();
    let file = environment_d_file(settings);
    if !crate::cmd::doctor::same_path(&default_location(settings), &settings.hf_home)
        && environment_d_text(settings).is_some()
        && let Some(dir) = file.parent()
    {
        parents.push(dir.to_path_buf());
    }
    if let Some((link, _)) = planned(settings)
        && let Some(dir) = link.parent()
    {
        parents.push(dir.to_path_buf());
    }
    parents
}

/// Whether `link` is the link install made and recorded, still pointing where it did.
fn is_our_link(settings: &Settings, link: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(record(settings)) else {
        return false;
    };
    let mut lines = text.lines();
    let (Some(l), Some(t)) = (lines.next(), lines.next()) else {
        return false;
    };
    Path::new(l) == link && std::fs::read_link(link).is_ok_and(|now| now == Path::new(t))
}

/// The deepest existing folder holding `p`, opened as a guard root.
fn root_for(p: &Path) -> Result<Root> {
    let anc = p
        .ancestors()
        .skip(1)
        .find(|a| a.is_dir())
        .unwrap_or(Path::new("/"));
    Ok(Root::open(anc)?)
}

/// modelenv's own file in `~/.config/environment.d`.
pub fn environment_d_file(settings: &Settings) -> PathBuf {
    settings.config_home.join("environment.d/60-modelenv.conf")
}

const ENVIRONMENT_D_HEADER: &str = "# Written by `modelenv install` for systemd user services and desktop sessions; `modelenv uninstall` deletes this file.";

/// The file's text, or `None` when a value cannot be written there as is (environment.d
/// expands `$` and has no quoting to stop it).
fn environment_d_text(settings: &Settings) -> Option<String> {
    let mut text = format!("{ENVIRONMENT_D_HEADER}\n");
    for (name, p) in settings.exports() {
        let v = p.to_str()?;
        if v.contains(['$', '\\', '"', '\'', '\n']) || v.trim() != v {
            return None;
        }
        text.push_str(&format!("{name}={v}\n"));
    }
    Some(text)
}

fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.starts_with(ENVIRONMENT_D_HEADER))
}

/// Writes (or updates) `~/.config/environment.d/60-modelenv.conf` when the central store is
/// not the default location; a file of that name that is not modelenv's is left alone.
fn install_environment_d(settings: &Settings, dry_run: bool) -> Result<()> {
    let file = environment_d_file(settings);
    if crate::cmd::doctor::same_path(&default_location(settings), &settings.hf_home) {
        return Ok(());
    }
    let Some(text) = environment_d_text(settings) else {
        crate::ui::note(format!(
            "{} not written: a location holds `$`, a quote or a backslash, which environment.d would change",
            show(settings, &file)
        ));
        return Ok(());
    };
    let old = std::fs::read_to_string(&file).ok();
    if old.as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    if old.is_some() && !is_ours(&file) {
        crate::ui::note(format!(
            "{} exists and is not modelenv's: left alone",
            show(settings, &file)
        ));
        return Ok(());
    }
    if dry_run {
        crate::ui::note(format!("would write {}", show(settings, &file)));
        return Ok(());
    }
    let mut plan = Plan::new();
    let root = root_for(&file)?;
    if let Some(dir) = file.parent().filter(|d| !d.is_dir()) {
        plan.create_dir(&root, dir)?;
    }
    plan.write(&root, &file, text.as_bytes())?;
    let outcome =
        Run::new(&settings.state_dir, "install", settings.test_kill_after).execute(&plan)?;
    if !outcome.complete() {
        bail!("{}", outcome.problems().join("\n"));
    }
    eprintln!(
        "wrote {} (systemd user services and desktop sessions)",
        show(settings, &file)
    );
    Ok(())
}

/// The remedies for contexts without startup files (install; a dry run only says).
pub fn install(settings: &Settings, dry_run: bool) -> Result<()> {
    install_environment_d(settings, dry_run)?;
    install_link(settings, dry_run)
}

/// Links the default location to the central store (install, not in a dry run); says why not
/// when the default location holds files.
fn install_link(settings: &Settings, dry_run: bool) -> Result<()> {
    let d = default_location(settings);
    let Some((link, target)) = planned(settings) else {
        if !crate::cmd::doctor::same_path(&d, &settings.hf_home)
            && d.symlink_metadata().is_ok()
            && !settings.hf_home.starts_with(&d)
        {
            crate::ui::note(format!(
                "{} holds files: not linked to the central store, so `sh -c`, cron and services keep using it",
                show(settings, &d)
            ));
        }
        return Ok(());
    };
    if dry_run {
        crate::ui::note(format!(
            "would link {} to {} for scripts, cron and services",
            show(settings, &link),
            show(settings, &target)
        ));
        return Ok(());
    }
    let mut plan = Plan::new();
    if !target.exists() {
        plan.create_dir(&root_for(&target)?, &target)?;
    }
    let root = root_for(&link)?;
    let was_link = link
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink());
    if was_link {
        plan.remove(&root, &link)?;
        plan.symlink_later(&root, &link, &target)?;
    } else if link.symlink_metadata().is_ok() {
        plan.remove_empty_dir(&root, &link)?;
        plan.symlink_later(&root, &link, &target)?;
    } else {
        if !link.parent().is_some_and(Path::is_dir) {
            plan.create_dir(&root, link.parent().unwrap_or(Path::new("/")))?;
        }
        plan.symlink(&root, &link, &target)?;
    }
    let mut rec = Plan::new();
    let state_root = root_for(&record(settings))?;
    if !settings.state_dir.is_dir() {
        rec.create_dir(&state_root, &settings.state_dir)?;
    }
    rec.write(
        &state_root,
        &record(settings),
        format!("{}\n{}\n", link.display(), target.display()).as_bytes(),
    )?;
    let outcome =
        Run::new(&settings.state_dir, "install", settings.test_kill_after).execute(&plan)?;
    if !outcome.complete() {
        bail!("{}", outcome.problems().join("\n"));
    }
    let outcome =
        Run::new(&settings.state_dir, "install", settings.test_kill_after).execute(&rec)?;
    if !outcome.complete() {
        bail!("{}", outcome.problems().join("\n"));
    }
    eprintln!(
        "linked {} to {} (for scripts, cron and services, which read no startup file)",
        show(settings, &link),
        show(settings, &target)
    );
    Ok(())
}

/// Undoes both remedies: modelenv's environment.d file, and the link while it still is the
/// one install made.
pub fn uninstall(settings: &Settings, dry_run: bool) -> Result<()> {
    let file = environment_d_file(settings);
    if is_ours(&file) {
        if dry_run {
            crate::ui::note(format!("would remove {}", show(settings, &file)));
        } else {
            let mut plan = Plan::new();
            plan.remove(&root_for(&file)?, &file)?;
            let outcome = Run::new(&settings.state_dir, "uninstall", settings.test_kill_after)
                .execute(&plan)?;
            if !outcome.complete() {
                bail!("{}", outcome.problems().join("\n"));
            }
            eprintln!("removed {}", show(settings, &file));
        }
    }
    uninstall_link(settings, dry_run)
}

fn uninstall_link(settings: &Settings, dry_run: bool) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(record(settings)) else {
        return Ok(());
    };
    let mut lines = text.lines();
    let (Some(link), Some(target)) = (lines.next(), lines.next()) else {
        return Ok(());
    };
    let (link, target) = (PathBuf::from(link), PathBuf::from(target));
    let ours = link
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
        && std::fs::read_link(&link).is_ok_and(|t| t == target);
    if dry_run {
        if ours {
            crate::ui::note(format!("would remove the link {}", show(settings, &link)));
        }
        return Ok(());
    }
    let mut plan = Plan::new();
    if ours {
        plan.remove(&root_for(&link)?, &link)?;
    }
    plan.remove(&root_for(&record(settings))?, &record(settings))?;
    let outcome =
        Run::new(&settings.state_dir, "uninstall", settings.test_kill_after).execute(&plan)?;
    if !outcome.complete() {
        bail!("{}", outcome.problems().join("\n"));
    }
    if ours {
        eprintln!("removed the link {}", show(settings, &link));
    }
    Ok(())
}
