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
    fresh_shell_modes(settings, env, shell, timeout, false)
}

/// [`fresh_shell`], or (`login_only`) only its login run.
fn fresh_shell_modes(
    settings: &Settings,
    env: &Env,
    shell: Shell,
    timeout: Duration,
    login_only: bool,
) -> Runs {
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
    if login_only {
        modes.retain(|(mode, _, _)| *mode == "login");
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

/// What a fresh login shell of the user's `$SHELL` exports, or `None` (no such shell, or it
/// could not be read: then a warning says so, since its locations were not adopted).
pub fn login_env(settings: &Settings, env: &Env) -> Option<Env> {
    let shell: Shell = settings.login_shell.as_deref()?.parse().ok()?;
    let secs = 5;
    let runs = fresh_shell_modes(settings, env, shell, Duration::from_secs(secs), true).ok()?;
    let (_, vars) = runs.into_iter().find(|(mode, _)| *mode == "login")?;
    match vars {
        Ok(vars) => Some(Env::from_vars(vars)),
        Err(e) => {
            crate::ui::warn(format!(
                "could not read what a fresh login {shell} exports ({e:#}; it is given {secs} s): a location only your login files set is not adopted; pass --hf-home, or export it here and run install again"
            ));
            None
        }
    }
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
                        Some(v) => problems.push(
                            Check::new(format!("{id}.{name}"), Status::Fail, format!("{name}={v} {origin}, expected {}", show(settings, &want)))
                                .hint(shadow_hint(settings, shell, name)),
                        ),
                        None => problems.push(
                            Check::new(format!("{id}.{name}"), Status::Fail, format!("{name} never reaches a fresh {mode} {shell} (block missing, wrong startup file, ZDOTDIR or an interactive guard)"))
                                .hint(shadow_hint(settings, shell, name)),
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

/// The startup files `shell` reads (system ones first), those that exist.
pub(super) fn startup_files(settings: &Settings, shell: Shell) -> Vec<PathBuf> {
    let h = &settings.home;
    let glob = |dir: &Path, ext: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == ext))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let mut files: Vec<PathBuf> = match shell {
        Shell::Bash => {
            let mut v = vec![PathBuf::from("/etc/profile")];
            v.extend(glob(Path::new("/etc/profile.d"), "sh"));
            v.push(PathBuf::from("/etc/bash.bashrc"));
            v.extend(
                [".bash_profile", ".bash_login", ".profile", ".bashrc"]
                    .iter()
                    .map(|n| h.join(n)),
            );
            v
        }
        Shell::Zsh => {
            let mut v: Vec<PathBuf> = [
                "/etc/zsh/zshenv",
                "/etc/zshenv",
                "/etc/zsh/zprofile",
                "/etc/zsh/zshrc",
            ]
            .iter()
            .map(PathBuf::from)
            .collect();
            let z = crate::shell::zsh_files(settings);
            let mut dirs = vec![z.fresh.parent().map(Path::to_path_buf)];
            dirs.push(
                z.nested
                    .as_deref()
                    .and_then(Path::parent)
                    .map(Path::to_path_buf),
            );
            for d in dirs.into_iter().flatten() {
                for n in [".zshenv", ".zprofile", ".zshrc", ".zlogin"] {
                    let p = d.join(n);
                    if !v.contains(&p) {
                        v.push(p);
                    }
                }
            }
            v
        }
        Shell::Fish => {
            let mut v = glob(Path::new("/etc/fish/conf.d"), "fish");
            v.push(PathBuf::from("/etc/fish/config.fish"));
            v.extend(glob(&crate::shell::fish_conf_d(settings), "fish"));
            v.push(settings.config_home.join("fish/config.fish"));
            v
        }
    };
    files.retain(|p| p.is_file());
    files
}

/// A line in a startup file that sets or unsets a variable.
pub(super) struct Assignment {
    pub path: PathBuf,
    pub line: usize,
    pub text: String,
}

/// Whether `line` assigns (or unsets) `name`: `export NAME=`, `NAME=`, `declare -x`,
/// `typeset -x`, `set -gx NAME`, `set -Ux NAME`, `unset NAME`, `set -e NAME`…
fn assigns(line: &str, name: &str) -> bool {
    let mut words = line.split_whitespace().peekable();
    let mut first = match words.next() {
        Some(w) => w,
        None => return false,
    };
    if matches!(
        first,
        "export" | "declare" | "typeset" | "local" | "readonly"
    ) {
        // skip flags
        loop {
            match words.next() {
                Some(w) if w.starts_with('-') => continue,
                Some(w) => {
                    first = w;
                    break;
                }
                None => return false,
            }
        }
        return first == name || first.starts_with(&format!("{name}="));
    }
    if first == "set" || first == "unset" || first == "setenv" {
        return words.find(|w| !w.starts_with('-')) == Some(name);
    }
    first.starts_with(&format!("{name}="))
}

/// Each line outside modelenv's block that sets `name` in the files `shell` reads.
pub(super) fn assignments(settings: &Settings, shell: Shell, name: &str) -> Vec<Assignment> {
    let mut out = Vec::new();
    for path in startup_files(settings, shell) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut in_block = false;
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t == "# >>> modelenv >>>" {
                in_block = true;
            } else if t == "# <<< modelenv <<<" {
                in_block = false;
            } else if !in_block && !t.starts_with('#') && assigns(t, name) {
                out.push(Assignment {
                    path: path.clone(),
                    line: i + 1,
                    text: t.to_owned(),
                });
            }
        }
    }
    out
}

/// What really fixes a wrong or missing value in a fresh shell: the lines that override the
/// block, else the install (when the block is missing).
fn shadow_hint(settings: &Settings, shell: Shell, name: &str) -> String {
    let found = assignments(settings, shell, name);
    let uvars = settings.config_home.join("fish/fish_variables");
    if found.is_empty()
        && shell == Shell::Fish
        && std::fs::read_to_string(&uvars).is_ok_and(|t| {
            t.lines().any(|l| {
                l.strip_prefix("SETUVAR ")
                    .map(|r| r.trim_start_matches("--export "))
                    .is_some_and(|r| r.starts_with(&format!("{name}:")))
            })
        })
    {
        return format!(
            "a fish universal variable sets it ({}): `fish -c 'set -Ue {name}'`, or run `modelenv install --shell fish`, whose `set -gx` shadows it",
            show(settings, &uvars)
        );
    }
    if found.is_empty() {
        return format!(
            "run `modelenv install --shell {shell}` (the block is missing from the file this shell reads), then open a new terminal"
        );
    }
    let lines: Vec<String> = found
        .iter()
        .map(|a| format!("{}:{} `{}`", show(settings, &a.path), a.line, a.text))
        .collect();
    format!(
        "edit or remove {} (it overrides modelenv's block; reinstalling does not help)",
        lines.join(", ")
    )
}

/// fish universal variables persist across sessions and are easy to forget. One that
/// modelenv's `set -gx` shadows is harmless while the block is there; one that wins is the
/// cause of a fresh fish's wrong value.
pub(super) fn fish_universal(
    settings: &Settings,
    fish_vars: Option<&BTreeMap<String, String>>,
) -> Vec<Check> {
    let file = settings.config_home.join("fish/fish_variables");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Vec::new();
    };
    let exports = settings.exports();
    let mut out = Vec::new();
    for line in text.lines() {
        let rest = line
            .strip_prefix("SETUVAR ")
            .map(|r| r.trim_start_matches("--export "));
        let Some((name, _)) = rest.and_then(|r| r.split_once(':')) else {
            continue;
        };
        if !(crate::settings::EXPORT_NAMES.contains(&name)
            || ["HF_HUB_CACHE", "OLLAMA_MODELS"].contains(&name))
        {
            continue;
        }
        let id = format!("shell.fish.universal.{name}");
        let want = exports.iter().find(|(n, _)| *n == name).map(|(_, p)| p);
        let seen = fish_vars.and_then(|v| v.get(name));
        let shadowed = match (want, seen) {
            (Some(w), Some(v)) => same_path(Path::new(v), w),
            _ => false,
        };
        out.push(if shadowed {
            Check::new(id, Status::Pass, format!("fish's universal {name} (in {}) is shadowed by modelenv's `set -gx`: every fish sees the central value", show(settings, &file)))
        } else {
            Check::new(id, Status::Warn, format!("fish has a universal variable {name} (in {}){}", show(settings, &file), if fish_vars.is_some() { " and a fresh fish does not get the central value" } else { "; it outlives every config change" }))
                .hint(format!("fish -c 'set -Ue {name}'"))
        });
    }
    out
}

pub(super) fn parse_env(out: &[u8]) -> Result<BTreeMap<String, String>> {
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
