//! `modelenv doctor`: proves that every library, shell, Python interpreter and the Ollama
//! service really resolve to the central locations, and names each problem with its fix.
//!
//! Checks: central locations (and free space), this process's variables judged by each
//! library's own rules, fresh login and interactive shells, the user's Python interpreters,
//! the Ollama server and service, the repo (project-local caches and configs), and links in
//! the stores that point nowhere. Slow probes (shells, interpreters, systemctl) run in
//! parallel, each with a timeout.
//!
//! One file per kind of check: `locations` (the central folders, free space, and each
//! library's resolution under a set of variables), `shells`, `python`, `ollama`, `repo` and
//! `integrity`. This file runs them in order and prints the report.

mod contexts;
mod integrity;
mod locations;
mod ollama;
mod python;
mod repo;
mod shared;
mod shells;
pub use shells::login_env;
mod strays;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::Exit;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::cli::DoctorArgs;
use crate::settings::{Env, Settings};
use crate::shell::Shell;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub id: String,
    pub status: Status,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The path this check resolved or inspected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

impl Check {
    fn new(id: impl Into<String>, status: Status, message: impl Into<String>) -> Check {
        Check {
            id: id.into(),
            status,
            message: message.into(),
            hint: None,
            path: None,
        }
    }
    fn hint(mut self, h: impl Into<String>) -> Check {
        self.hint = Some(h.into());
        self
    }
    fn path(mut self, p: &Path) -> Check {
        self.path = Some(p.to_path_buf());
        self
    }
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    summary: Summary,
    central: Central,
    checks: &'a [Check],
}

#[derive(Serialize)]
struct Central {
    hf_home: PathBuf,
    hub_cache: PathBuf,
    datasets_cache: PathBuf,
    custom_model_dir: PathBuf,
    ollama_models: PathBuf,
}

pub fn run(settings: &Settings, env: &Env, args: &DoctorArgs) -> Result<Exit> {
    let timeout = Duration::from_secs(args.timeout);
    let mut checks = locations::checks(settings);
    checks.extend(shared::checks(settings));
    let mut shell_skips = Vec::new();
    let shells = if args.skip_shells {
        shell_skips.push(Check::new(
            "shell",
            Status::Skip,
            "shell startup files left alone (--no-modify-profile)",
        ));
        vec![]
    } else if args.shells.is_empty() {
        match settings.login_shell.as_deref().map(str::parse::<Shell>) {
            Some(Ok(s)) => vec![s],
            Some(Err(_)) => {
                shell_skips.push(
                    Check::new(
                        "shell",
                        Status::Skip,
                        format!(
                            "$SHELL is {}, which modelenv does not configure",
                            settings.login_shell.as_deref().unwrap_or("")
                        ),
                    )
                    .hint("pass --shell bash|zsh|fish to check one of those"),
                );
                vec![]
            }
            None => vec![],
        }
    } else {
        args.shells.clone()
    };
    let mut contexts_checks = Vec::new();
    let (shell_runs, probed, ollama_checks) = if args.no_probe {
        shell_skips.push(Check::new(
            "shell",
            Status::Skip,
            "fresh shells not started (--no-probe)",
        ));
        (
            vec![],
            python::Probed {
                checks: vec![Check::new(
                    "python",
                    Status::Skip,
                    "Python interpreters not probed (--no-probe)",
                )],
                transformers: vec![],
            },
            ollama::checks(settings, env, false, timeout),
        )
    } else {
        std::thread::scope(|s| {
            let sh = s.spawn(|| {
                shells
                    .iter()
                    .map(|sh| (*sh, shells::fresh_shell(settings, env, *sh, timeout)))
                    .collect::<Vec<_>>()
            });
            let py = s.spawn(|| python::checks(settings, env, &args.pythons, timeout));
            let ol = s.spawn(|| ollama::checks(settings, env, true, timeout));
            let cx = s.spawn(|| contexts::checks(settings, env, timeout));
            contexts_checks = cx.join().unwrap_or_default();
            (
                sh.join().unwrap_or_default(),
                py.join().unwrap_or_default(),
                ol.join().unwrap_or_default(),
            )
        })
    };
    let assumed = locations::Assumed::from_probes(&probed.transformers);
    let mut env_checks = locations::libraries(
        settings,
        env,
        "env",
        "in this process",
        Status::Warn,
        &assumed,
    );
    let mut shell_checks = Vec::new();
    let mut fish_vars = None;
    let started = shell_runs.iter().any(|(_, r)| r.is_ok());
    for (shell, runs) in shell_runs {
        if shell == Shell::Fish
            && let Ok(r) = &runs
        {
            fish_vars = r.iter().find_map(|(_, v)| v.as_ref().ok().cloned());
        }
        shell_checks.extend(shells::judge(settings, shell, runs, &assumed));
    }
    // Fresh shells get it right and this process does not: it predates the change.
    if started && !shell_checks.iter().any(|c| c.status == Status::Fail) {
        for c in env_checks
            .iter_mut()
            .filter(|c| matches!(c.status, Status::Fail | Status::Warn))
        {
            c.hint = Some(
                "a fresh shell gets the central locations: this process started before the change; open a new terminal (or `exec $SHELL -l`)".into(),
            );
        }
    }
    checks.extend(env_checks);
    checks.extend(shell_skips);
    checks.extend(shell_checks);
    checks.extend(shells::fish_universal(settings, fish_vars.as_ref()));
    checks.extend(contexts_checks);
    checks.extend(probed.checks);
    checks.extend(ollama_checks);
    checks.extend(repo::checks(settings, args.repo.as_deref()));
    checks.extend(integrity::checks(settings));
    checks.extend(strays::checks(settings));

    let ok = !checks.iter().any(|c| c.status == Status::Fail);
    if args.json {
        let central = Central {
            hf_home: settings.hf_home.clone(),
            hub_cache: settings.hub_cache(),
            datasets_cache: settings.datasets_cache(),
            custom_model_dir: settings.custom_model_dir.clone(),
            ollama_models: settings.ollama_models.clone(),
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&Report {
                ok,
                summary: Summary::of(&checks),
                central,
                checks: &checks
            })?
        );
    } else {
        print_human(&checks);
    }
    Ok(if ok { Exit::Ok } else { Exit::Problems })
}

/// The closing counts.
#[derive(Serialize)]
struct Summary {
    ok: usize,
    warnings: usize,
    failures: usize,
    skipped: usize,
}

impl Summary {
    fn of(checks: &[Check]) -> Summary {
        let n = |st: Status| checks.iter().filter(|c| c.status == st).count();
        Summary {
            ok: n(Status::Pass),
            warnings: n(Status::Warn),
            failures: n(Status::Fail),
            skipped: n(Status::Skip),
        }
    }

    fn line(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let mut s = format!(
            "{} ok, {}, {}",
            self.ok,
            plural(self.warnings, "warning", "warnings"),
            plural(self.failures, "failure", "failures")
        );
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped", self.skipped));
        }
        s
    }
}

fn print_human(checks: &[Check]) {
    use console::style;
    let mut section = "";
    let mut i = 0;
    while i < checks.len() {
        let c = &checks[i];
        let group = c.id.split('.').next().unwrap_or("");
        if group != section {
            section = group;
            let title = match group {
                "location" => "Central locations",
                "env" => "This process",
                "shell" => "Fresh shells",
                "context" => "Scripts, cron and services",
                "python" => "Python libraries",
                "ollama" => "Ollama",
                "repo" => "The repo",
                "integrity" => "Links in the stores",
                other => other,
            };
            println!("{}", style(title).bold());
        }
        // Problems of one cause (the same fix) that follow each other are shown once.
        let same = checks[i + 1..]
            .iter()
            .take_while(|d| {
                d.status == c.status
                    && d.hint.is_some()
                    && d.hint == c.hint
                    && matches!(c.status, Status::Fail | Status::Warn)
                    && d.id.split('.').next() == Some(group)
            })
            .count();
        let mark = match c.status {
            Status::Pass => style("✓").green(),
            Status::Warn => style("!").yellow(),
            Status::Fail => style("✗").red(),
            Status::Skip => style("-").dim(),
        };
        println!(
            "  {mark} {} {}",
            c.message,
            style(format!("[{}]", c.id)).dim()
        );
        if same > 0 {
            let ids: Vec<&str> = checks[i + 1..=i + same]
                .iter()
                .map(|d| d.id.as_str())
                .collect();
            println!(
                "      {} {} more with the same cause: {}",
                style("+").dim(),
                same,
                ids.join(", ")
            );
        }
        if let Some(h) = &c.hint {
            println!("      {} {h}", style("hint:").green());
        }
        i += same + 1;
    }
    println!("{}", Summary::of(checks).line());
}

/// Whether `have` names the same folder as `want`: each resolved through its deepest existing
/// folder (so a link on the way counts, as it does for the libraries), the rest compared as text.
pub fn same_path(have: &Path, want: &Path) -> bool {
    crate::fsutil::resolve_existing(have) == crate::fsutil::resolve_existing(want)
}

/// Brackets what `print_env` prints, so the shell checks find it among whatever the startup
/// files print.
const MARK: &str = "\u{1}MODELENV-ENV\u{1}";

/// Hidden helper run inside a fresh shell: prints its exported environment between markers.
pub fn print_env() {
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;
    let mut buf = Vec::new();
    buf.extend_from_slice(MARK.as_bytes());
    for (k, v) in std::env::vars_os() {
        buf.extend_from_slice(k.as_bytes());
        buf.push(b'=');
        buf.extend_from_slice(v.as_bytes());
        buf.push(0);
    }
    buf.extend_from_slice(MARK.as_bytes());
    let _ = std::io::stdout().lock().write_all(&buf);
}

/// Runs a probe (stdin closed, stderr dropped, a time limit, its own process group) and
/// returns its stdout. Shared by the shell, Python and Ollama checks.
fn run_probe(cmd: Command, timeout: Duration) -> Result<Vec<u8>> {
    crate::probe::run(cmd, timeout, crate::probe::Answer::Stdout)
}
