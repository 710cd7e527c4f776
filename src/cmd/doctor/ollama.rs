//! The Ollama server and service (running processes, the systemd unit, launchd on macOS):
//! where do they really store models, and can the service user write there?

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::cmd::show;
use crate::resolve;
use crate::settings::{Env, Settings};

use super::{Check, Status, run_probe, same_path};

/// The Ollama server and service: where do they really store models?
pub(super) fn checks(settings: &Settings, env: &Env, probe: bool, timeout: Duration) -> Vec<Check> {
    let central = &settings.ollama_models;
    let shown = show(settings, central);
    let mut out = Vec::new();
    let binary = env
        .get("PATH")
        .and_then(|p| which::which_in("ollama", Some(p), "/").ok());
    let procs = ollama_processes();
    let unit = if probe { systemd_unit(timeout) } else { None };
    if binary.is_none() && procs.is_empty() && unit.is_none() && !central.exists() {
        return vec![Check::new(
            "ollama",
            Status::Skip,
            "Ollama is not installed",
        )];
    }
    out.push(match &binary {
        Some(b) => Check::new(
            "ollama.binary",
            Status::Pass,
            format!("ollama binary: {}", b.display()),
        ),
        None => Check::new("ollama.binary", Status::Skip, "no ollama binary on PATH"),
    });
    let systemd_fix = format!(
        "sudo systemctl edit ollama.service, add the lines `[Service]` and `Environment=\"OLLAMA_MODELS={}\"`, then sudo systemctl daemon-reload && sudo systemctl restart ollama && sudo chown -R ollama:ollama {}",
        central.display(),
        central.display()
    );
    for (pid, environ) in &procs {
        let id = format!("ollama.process.{pid}");
        match environ {
            Err(e) => out.push(
                Check::new(
                    id,
                    Status::Warn,
                    format!("cannot read the environment of the ollama process {pid}: {e}"),
                )
                .hint("run `sudo modelenv doctor` to inspect a server owned by another user"),
            ),
            Ok(vars) => {
                let r = resolve::ollama_models(vars);
                let c = match &r.defect {
                    Some(d) => Check::new(
                        id,
                        Status::Fail,
                        format!("the running ollama server (pid {pid}): {d}"),
                    ),
                    None if same_path(&r.path, central) => Check::new(
                        id,
                        Status::Pass,
                        format!("the running ollama server (pid {pid}) stores models in {shown}"),
                    ),
                    None => Check::new(
                        id,
                        Status::Fail,
                        format!(
                            "the running ollama server (pid {pid}) stores models in {}, not {shown}: it ignores your shell's variables",
                            r.path.display()
                        ),
                    ),
                };
                let c = if c.status == Status::Fail {
                    c.hint(if unit.is_some() { systemd_fix.clone() } else { format!("restart it with OLLAMA_MODELS={} (macOS: launchctl setenv OLLAMA_MODELS {} and restart the app)", central.display(), central.display()) })
                } else {
                    c
                };
                out.push(c.path(&r.path));
            }
        }
    }
    if let Some(u) = &unit {
        let r = match u.env.get("OLLAMA_MODELS") {
            Some(_) => resolve::ollama_models(&u.env),
            None => {
                let mut vars = BTreeMap::new();
                vars.insert("HOME".to_owned(), u.home.clone());
                resolve::ollama_models(&vars)
            }
        };
        let c = if same_path(&r.path, central) {
            Check::new(
                "ollama.systemd",
                Status::Pass,
                format!("ollama.service (user {}) stores models in {shown}", u.user),
            )
        } else {
            Check::new(
                "ollama.systemd",
                Status::Fail,
                format!(
                    "ollama.service (user {}) stores models in {}, not {shown}",
                    u.user,
                    r.path.display()
                ),
            )
            .hint(systemd_fix.clone())
        };
        out.push(c.path(&r.path));
        // The service runs as its own user: it must be able to write the central folder.
        if let Some(uid) = passwd_uid(&u.user)
            && !writable_by(central, uid)
        {
            out.push(
                Check::new(
                    "ollama.systemd.writable",
                    Status::Fail,
                    format!("{shown} is not writable by the service user {}", u.user),
                )
                .hint(format!(
                    "sudo chown -R {}:{} {}",
                    u.user,
                    u.user,
                    central.display()
                )),
            );
        }
    }
    if probe && let Some(c) = launchd(central, &shown, timeout) {
        out.push(c);
    }
    out
}

/// The uid of a user in /etc/passwd.
fn passwd_uid(user: &str) -> Option<u32> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd
        .lines()
        .find(|l| l.starts_with(&format!("{user}:")))?;
    line.split(':').nth(2)?.parse().ok()
}

/// Whether `uid` may create files in `dir` (or its nearest existing ancestor), by its mode bits.
fn writable_by(dir: &Path, uid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some(m) = dir.ancestors().find_map(|a| std::fs::metadata(a).ok()) else {
        return true;
    };
    uid == 0 || (m.uid() == uid && m.mode() & 0o200 != 0) || m.mode() & 0o002 != 0
}

/// macOS: the environment launchd gives the Ollama app (`launchctl getenv OLLAMA_MODELS`).
fn launchd(central: &Path, shown: &str, timeout: Duration) -> Option<Check> {
    if !cfg!(target_os = "macos") {
        return None;
    }
    let launchctl = which::which("launchctl").ok()?;
    let mut cmd = Command::new(launchctl);
    cmd.args(["getenv", "OLLAMA_MODELS"]);
    let value = String::from_utf8(run_probe(cmd, timeout).ok()?)
        .ok()?
        .trim()
        .to_owned();
    let fix = format!(
        "launchctl setenv OLLAMA_MODELS {} and restart the Ollama app (check its own settings too)",
        central.display()
    );
    Some(if value.is_empty() {
        Check::new(
            "ollama.launchd",
            Status::Warn,
            "launchd has no OLLAMA_MODELS: the Ollama app uses ~/.ollama/models",
        )
        .hint(fix)
    } else if same_path(Path::new(&value), central) {
        Check::new(
            "ollama.launchd",
            Status::Pass,
            format!("launchd gives the Ollama app OLLAMA_MODELS={shown}"),
        )
    } else {
        Check::new(
            "ollama.launchd",
            Status::Fail,
            format!("launchd gives the Ollama app OLLAMA_MODELS={value}, not {shown}"),
        )
        .hint(fix)
    })
}

/// A process's environment, or why it could not be read.
type ProcEnv = Result<BTreeMap<String, String>, String>;

/// `(pid, its environment)` for every process named `ollama`.
fn ollama_processes() -> Vec<(u32, ProcEnv)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim() != "ollama" {
            continue;
        }
        let environ = std::fs::read(e.path().join("environ"))
            .map_err(|err| err.to_string())
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .split('\0')
                    .filter_map(|kv| {
                        kv.split_once('=')
                            .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    })
                    .collect()
            });
        out.push((pid, environ));
    }
    out.sort_by_key(|(p, _)| *p);
    out
}

struct Unit {
    user: String,
    home: String,
    env: BTreeMap<String, String>,
}

/// The `ollama.service` unit's environment and user, if systemd has one loaded.
fn systemd_unit(timeout: Duration) -> Option<Unit> {
    let systemctl = which::which("systemctl").ok()?;
    let mut cmd = Command::new(systemctl);
    cmd.args([
        "show",
        "ollama.service",
        "-p",
        "LoadState",
        "-p",
        "Environment",
        "-p",
        "User",
        "--no-pager",
    ]);
    let out = String::from_utf8(run_probe(cmd, timeout).ok()?).ok()?;
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for line in out.lines() {
        if let Some((k, v)) = line.split_once('=') {
            fields.insert(k, v);
        }
    }
    if fields.get("LoadState") != Some(&"loaded") {
        return None;
    }
    let mut env = BTreeMap::new();
    for item in fields
        .get("Environment")
        .copied()
        .unwrap_or("")
        .split_whitespace()
    {
        if let Some((k, v)) = item.trim_matches('"').split_once('=') {
            env.insert(k.to_owned(), v.to_owned());
        }
    }
    let user = fields
        .get("User")
        .filter(|u| !u.is_empty())
        .copied()
        .unwrap_or("root")
        .to_owned();
    let home = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines()
                .find(|l| l.starts_with(&format!("{user}:")))
                .and_then(|l| l.split(':').nth(5).map(str::to_owned))
        })
        .unwrap_or_else(|| format!("/home/{user}"));
    Some(Unit { user, home, env })
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // fixtures are made by hand
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writability_follows_owner_and_mode() {
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(d.path()).unwrap());
        assert!(writable_by(&d.path().join("not/yet"), owner));
        assert!(
            !writable_by(d.path(), owner.wrapping_add(12345)) || owner.wrapping_add(12345) == 0
        );
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(writable_by(d.path(), owner.wrapping_add(12345)));
    }
}
