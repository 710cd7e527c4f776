//! Fresh login and interactive shells: do they really export the central locations? Also
//! fish universal variables, which outlive every config change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::cmd::show;
use crate::settings::{Env, Settings};
use crate::shell::Shell;

use super::locations::{Assumed, libraries};
use super::{Check, MARK, Status, run_probe, same_path};

/// What starting one shell gave: the checks that stand alone (not installed…), or each
/// mode's environment.
pub(super) type Runs = Result<Vec<(&'static str, Result<BTreeMap<String, String>>)>, Check>;

/// Starts `shell` as a login and as an interactive shell the way a login or a terminal starts
/// it: a clean environment with only HOME, USER, LOGNAME, PATH, TERM and XDG_CONFIG_HOME; in
/// particular no ZDOTDIR (a fresh zsh finds it in the user's own files, if anywhere).
pub(super) fn fresh_shell(settings: &Settings, env: &Env, shell: Shell, timeout: Duration) -> Runs {
    let Ok(bin) = which::which(shell.name()) else {
        return Err(Check::new(
            format!("shell.{shell}"),
            Status::Skip,
            format!("{shell} is not installed"),
        ));
    };
    let mut modes: Vec<(&'static str, &[&str], Option<PathBuf>)> = match shell {
        Shell::Zsh => vec![
            ("non-interactive", &["-c"], None),
            ("login", &["-l", "-c"], None),
            ("interactive", &["-i", "-c"], None),
        ],
        _ => vec![
            ("login", &["-l", "-c"], None),
            ("interactive", &["-i", "-c"], None),
        ],
    };
    // A zsh started from a fresh one inherits the ZDOTDIR the user's files exported, and
    // reads that folder's .zshenv instead.
    if shell == Shell::Zsh
        && let Some(nested) = crate::shell::zsh_files(settings).nested
        && let Some(dir) = nested.parent()
    {
        modes.push(("nested", &["-c"], Some(dir.to_path_buf())));
    }
    let Ok(exe) = std::env::current_exe() else {
        return Err(Check::new(
            format!("shell.{shell}"),
            Status::Skip,
            "cannot locate the modelenv binary to read the shell's environment",
        ));
    };
    let results: Vec<(&'static str, Result<BTreeMap<String, String>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = modes
            .iter()
            .map(|(mode, flags, zdotdir)| {
                let bin = &bin;
                let exe = &exe;
                s.spawn(move || {
                    let script =
                        format!("{} internal-print-env", shell.quote(&exe.to_string_lossy()));
                    let mut cmd = Command::new(bin);
                    cmd.args(*flags)
                        .arg(&script)
                        .env_clear()
                        .current_dir(&settings.home)
                        .env("HOME", &settings.home);
                    for key in ["USER", "PATH", "TERM", "XDG_CONFIG_HOME", "LOGNAME"] {
                        if let Some(v) = env.get(key) {
                            cmd.env(key, v);
                        }
                    }
                    if let Some(z) = zdotdir {
                        cmd.env("ZDOTDIR", z);
                    }
                    (
                        *mode,
                        run_probe(cmd, timeout).and_then(|out| parse_env(&out)),
                    )
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    Ok(results)
}

/// The checks for one shell's runs, each library judged under what the shell exported.
pub(super) fn judge(
    settings: &Settings,
    shell: Shell,
    runs: Runs,
    assumed: &Assumed,
) -> Vec<Check> {
    let results = match runs {
        Ok(r) => r,
        Err(c) => return vec![c],
    };
    let mut out = Vec::new();
    for (mode, res) in results {
        let id = format!("shell.{shell}.{mode}");
        let origin = format!("in a fresh {mode} {shell}");
        match res {
            Err(e) => out.push(Check::new(
                id,
                Status::Warn,
                format!("could not run a fresh {mode} {shell}: {e}"),
            )),
            Ok(vars) => {
                let mut problems = Vec::new();
                for (name, want) in settings.exports() {
                    match vars.get(name) {
                        Some(v) if same_path(Path::new(v), &want) => {}
                        Some(v) => problems.push(Check::new(format!("{id}.{name}"), Status::Fail, format!("{name}={v} {origin}, expected {}", show(settings, &want))).hint(format!("run `modelenv install --shell {shell}`"))),
                        None => problems.push(
                            Check::new(format!("{id}.{name}"), Status::Fail, format!("{name} never reaches a fresh {mode} {shell} (block missing, wrong startup file, ZDOTDIR or an interactive guard)"))
                                .hint(format!("run `modelenv install --shell {shell}`")),
                        ),
                    }
                }
                let mut vars = vars;
                vars.insert("HOME".into(), settings.home.to_string_lossy().into_owned());
                problems.extend(
                    libraries(settings, &vars, &id, &origin, Status::Skip, assumed)
                        .into_iter()
                        .filter(|c| c.status != Status::Pass),
                );
                if problems.is_empty() {
                    out.push(Check::new(
                        id,
                        Status::Pass,
                        format!("a fresh {mode} {shell} gets the central locations"),
                    ));
                } else {
                    out.extend(problems);
                }
            }
        }
    }
    out
}

/// fish universal variables persist across sessions and are easy to forget.
pub(super) fn fish_universal(settings: &Settings) -> Vec<Check> {
    let file = settings.config_home.join("fish/fish_variables");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let rest = line
            .strip_prefix("SETUVAR ")
            .map(|r| r.trim_start_matches("--export "));
        if let Some((name, _)) = rest.and_then(|r| r.split_once(':'))
            && (crate::settings::EXPORT_NAMES.contains(&name)
                || ["HF_HUB_CACHE", "OLLAMA_MODELS"].contains(&name))
        {
            out.push(
                Check::new(format!("shell.fish.universal.{name}"), Status::Warn, format!("fish has a universal variable {name} (in {}); it outlives every config change", show(settings, &file)))
                    .hint(format!("fish -c 'set -Ue {name}'")),
            );
        }
    }
    out
}

fn parse_env(out: &[u8]) -> Result<BTreeMap<String, String>> {
    let text = String::from_utf8_lossy(out);
    let inner = text.split(MARK).nth(1).ok_or_else(|| {
        anyhow::anyhow!("the shell did not run the probe (its startup files may exit early)")
    })?;
    Ok(inner
        .split('\0')
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect())
}
