//! Contexts that read no startup file: scripts run as `sh -c` or `bash -c`, cron jobs,
//! systemd services and many GUI-launched programs (FACTS.md §3). They get the libraries'
//! defaults; the doctor starts `sh -c` and `bash -c` the way cron does (`env -i` with HOME,
//! LOGNAME, USER, PATH=/usr/bin:/bin and SHELL=/bin/sh) and says honestly where their
//! downloads go.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::cmd::show;
use crate::resolve;
use crate::settings::{Env, Settings};

use super::shells::parse_env;
use super::{Check, Status, run_probe, same_path};

pub(super) fn checks(settings: &Settings, env: &Env, timeout: Duration) -> Vec<Check> {
    let Ok(exe) = std::env::current_exe() else {
        return vec![];
    };
    let contexts = [("sh", "sh -c and cron jobs"), ("bash", "bash -c scripts")];
    let runs: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = contexts
            .iter()
            .map(|(bin, label)| {
                let exe = &exe;
                s.spawn(move || {
                    let script = format!(
                        "{} internal-print-env",
                        crate::shell::quote_posix(&exe.to_string_lossy())
                    );
                    let mut cmd = Command::new(bin);
                    cmd.args(["-c", &script])
                        .env_clear()
                        .env("HOME", &settings.home)
                        .env("PATH", "/usr/bin:/bin")
                        .env("SHELL", "/bin/sh")
                        .current_dir(&settings.home);
                    for key in ["USER", "LOGNAME"] {
                        if let Some(v) = env.get(key) {
                            cmd.env(key, v);
                        }
                    }
                    (
                        *bin,
                        *label,
                        run_probe(cmd, timeout).and_then(|o| parse_env(&o)),
                    )
                })
            })
            .collect();
        hs.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut out = Vec::new();
    out.extend(environment_d(settings, env, timeout));
    for (bin, label, res) in runs {
        let id = format!("context.{bin}");
        let Ok(mut vars): Result<BTreeMap<String, String>, _> = res else {
            continue; // that shell is not installed
        };
        vars.insert("HOME".into(), settings.home.to_string_lossy().into_owned());
        let hub = resolve::hub_cache(&vars);
        let ds = resolve::datasets_cache(&vars);
        let hub_ok = hub.defect.is_none() && same_path(&hub.path, &settings.hub_cache());
        let ds_ok = ds.defect.is_none() && same_path(&ds.path, &settings.datasets_cache());
        let default = resolve::hf_home(&vars).path;
        if hub_ok && ds_ok {
            let how = if default
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
            {
                format!("{} links to it", show(settings, &default))
            } else if hub.from.is_none() {
                "it is the libraries' default location".to_owned()
            } else {
                "a system file sets the variables".to_owned()
            };
            out.push(Check::new(
                id,
                Status::Pass,
                format!("{label} (no startup file) get the central store: {how}"),
            ));
        } else {
            let wrong = if hub_ok { &ds.path } else { &hub.path };
            out.push(
                Check::new(
                    id,
                    Status::Warn,
                    format!(
                        "{label} read no startup file: downloads there go to {}, not the central {}",
                        wrong.display(),
                        show(settings, &settings.hf_home)
                    ),
                )
                .hint(format!(
                    "`modelenv install` links {d} to the central store when {d} is absent or empty; otherwise move what it holds into the store and `ln -s {c} {d}`. systemd user services and desktop sessions also read ~/.config/environment.d/*.conf (HF_HOME={c})",
                    d = default.display(),
                    c = settings.hf_home.display()
                ))
                .path(wrong),
            );
        }
    }
    out
}

const GENERATOR: &str =
    "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator";

/// What systemd user services and desktop sessions get from `~/.config/environment.d`: the
/// real generator's answer where systemd is installed, else the files read line by line.
fn environment_d(settings: &Settings, env: &Env, timeout: Duration) -> Vec<Check> {
    let default = crate::cmd::default_link::default_location(settings);
    if same_path(&default, &settings.hf_home) {
        return vec![]; // services use the default location, which is the store
    }
    let dir = settings.config_home.join("environment.d");
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let from_generator = Path::new(GENERATOR).is_file();
    if from_generator {
        let mut cmd = Command::new(GENERATOR);
        cmd.env_clear().env("HOME", &settings.home);
        if let Some(x) = env.get("XDG_CONFIG_HOME") {
            cmd.env("XDG_CONFIG_HOME", x);
        }
        if let Ok(out) = run_probe(cmd, timeout) {
            for line in String::from_utf8_lossy(&out).lines() {
                if let Some((k, v)) = line.split_once('=') {
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v);
                    vars.insert(k.to_owned(), v.to_owned());
                }
            }
        }
    } else if let Ok(rd) = std::fs::read_dir(&dir) {
        let mut files: Vec<_> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        files.sort();
        for f in files {
            for line in std::fs::read_to_string(&f).unwrap_or_default().lines() {
                if let Some((k, v)) = line.trim().split_once('=')
                    && !k.starts_with('#')
                {
                    vars.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
        }
    }
    let id = "context.environment_d";
    match vars.get("HF_HOME") {
        Some(v) if same_path(Path::new(v), &settings.hf_home) => vec![Check::new(
            id,
            Status::Pass,
            format!(
                "systemd user services and desktop sessions get HF_HOME={} from {}",
                show(settings, &settings.hf_home),
                show(settings, &dir)
            ),
        )],
        Some(v) => vec![
            Check::new(
                id,
                Status::Warn,
                format!(
                    "systemd user services and desktop sessions get HF_HOME={v} from {}, not {}",
                    show(settings, &dir),
                    show(settings, &settings.hf_home)
                ),
            )
            .hint(format!("fix HF_HOME in {}", show(settings, &dir))),
        ],
        None => vec![
            Check::new(
                id,
                Status::Warn,
                format!(
                    "systemd user services and desktop sessions get no HF_HOME (nothing in {}): they use {}",
                    show(settings, &dir),
                    show(settings, &default)
                ),
            )
            .hint("`modelenv install` writes ~/.config/environment.d/60-modelenv.conf (read at the next login)"),
        ],
    }
}
