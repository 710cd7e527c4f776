//! `modelenv doctor`: checks that the central locations are usable and that this process and a
//! fresh login and interactive shell really carry the variables install writes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use wait_timeout::ChildExt;

use crate::cli::DoctorArgs;
use crate::settings::{Env, Settings};
use crate::shell::Shell;

use super::show;

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
    checks: &'a [Check],
}

pub fn run(settings: &Settings, env: &Env, args: &DoctorArgs) -> Result<ExitCode> {
    let mut checks = Vec::new();
    checks.extend(locations(settings));
    checks.extend(process_env(settings, env));
    let shells = if args.shells.is_empty() {
        match settings.login_shell.as_deref().map(str::parse::<Shell>) {
            Some(Ok(s)) => vec![s],
            Some(Err(_)) => {
                checks.push(
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
    for shell in shells {
        checks.extend(fresh_shell(
            settings,
            env,
            shell,
            Duration::from_secs(args.timeout),
        ));
    }
    let ok = !checks.iter().any(|c| c.status == Status::Fail);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&Report {
                ok,
                checks: &checks
            })?
        );
    } else {
        print_human(&checks);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_human(checks: &[Check]) {
    use console::style;
    let mut section = "";
    for c in checks {
        let group = c.id.split('.').next().unwrap_or("");
        if group != section {
            section = group;
            let title = match group {
                "location" => "Central locations",
                "env" => "This process",
                "shell" => "Fresh shells",
                other => other,
            };
            println!("{}", style(title).bold());
        }
        let mark = match c.status {
            Status::Pass => style("✓").green(),
            Status::Warn => style("!").yellow(),
            Status::Fail => style("✗").red(),
            Status::Skip => style("-").dim(),
        };
        println!("  {mark} {}", c.message);
        if let Some(h) = &c.hint {
            println!("      {} {h}", style("hint:").green());
        }
    }
}

fn locations(settings: &Settings) -> Vec<Check> {
    let items = [
        ("hf_home", "HF_HOME", settings.hf_home.clone()),
        ("hub_cache", "hub cache", settings.hub_cache()),
        (
            "datasets_cache",
            "datasets cache",
            settings.datasets_cache(),
        ),
        (
            "custom_model_dir",
            "CUSTOM_MODEL_DIR",
            settings.custom_model_dir.clone(),
        ),
    ];
    items
        .into_iter()
        .map(|(id, name, p)| {
            let id = format!("location.{id}");
            let shown = show(settings, &p);
            match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() => Check::new(id, Status::Pass, format!("{name}: {shown} exists")),
                Ok(_) => Check::new(id, Status::Fail, format!("{name}: {shown} exists but is not a folder"))
                    .hint("move it away or choose another location with `modelenv install --hf-home DIR`"),
                Err(_) => match crate::fsutil::check_writable(&p) {
                    Ok(()) => Check::new(id, Status::Pass, format!("{name}: {shown} will be created on first use")),
                    Err(e) => Check::new(id, Status::Fail, format!("{name}: {shown} cannot be created: {e}"))
                        .hint("choose a writable location with `modelenv config set hf_home DIR` and reinstall"),
                },
            }
            .path(&p)
        })
        .collect()
}

/// Whether `have` names the same folder as `want`: canonical paths when they exist, else lexical.
pub fn same_path(have: &Path, want: &Path) -> bool {
    match (have.canonicalize(), want.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => crate::settings::normalize(have) == crate::settings::normalize(want),
    }
}

fn judge(
    settings: &Settings,
    id: String,
    name: &str,
    value: Option<&str>,
    want: &Path,
    origin: &str,
    fix: &str,
) -> Check {
    let shown = show(settings, want);
    match value {
        None => {
            Check::new(id, Status::Warn, format!("{name} is not set {origin}")).hint(fix.to_owned())
        }
        Some("") => Check::new(
            id,
            Status::Fail,
            format!("{name} is set but empty {origin} (Python reads that as the current folder)"),
        )
        .hint(fix.to_owned()),
        Some(v) if v.starts_with('~') => Check::new(
            id,
            Status::Fail,
            format!("{name}={v} {origin}: a literal `~` is not expanded by every library"),
        )
        .hint(fix.to_owned()),
        Some(v) if !Path::new(v).is_absolute() => Check::new(
            id,
            Status::Fail,
            format!("{name}={v} {origin} is a relative path: each project gets its own cache"),
        )
        .hint(fix.to_owned()),
        Some(v) if same_path(Path::new(v), want) => {
            Check::new(id, Status::Pass, format!("{name} = {shown} {origin}"))
        }
        Some(v) => Check::new(
            id,
            Status::Fail,
            format!("{name}={v} {origin}, expected {shown}"),
        )
        .hint(fix.to_owned()),
    }
}

fn process_env(settings: &Settings, env: &Env) -> Vec<Check> {
    settings
        .exports()
        .into_iter()
        .map(|(name, want)| {
            judge(
                settings,
                format!("env.{name}"),
                name,
                env.get(name),
                &want,
                "in this process",
                "open a new terminal after `modelenv install`, or run: eval \"$(modelenv init bash)\"",
            )
        })
        .collect()
}

/// Starts `shell` as a login and as an interactive shell with a clean environment and checks
/// the variables it really gets.
fn fresh_shell(settings: &Settings, env: &Env, shell: Shell, timeout: Duration) -> Vec<Check> {
    let Ok(bin) = which::which(shell.name()) else {
        return vec![Check::new(
            format!("shell.{shell}"),
            Status::Skip,
            format!("{shell} is not installed"),
        )];
    };
    let modes: &[(&str, &[&str])] = match shell {
        Shell::Zsh => &[
            ("non-interactive", &["-c"]),
            ("login", &["-l", "-c"]),
            ("interactive", &["-i", "-c"]),
        ],
        _ => &[("login", &["-l", "-c"]), ("interactive", &["-i", "-c"])],
    };
    let exe = std::env::current_exe().ok();
    let mut out = Vec::new();
    for (mode, flags) in modes {
        let id = format!("shell.{shell}.{mode}");
        let Some(exe) = &exe else {
            out.push(Check::new(
                id,
                Status::Skip,
                "cannot locate the modelenv binary to read the shell's environment",
            ));
            continue;
        };
        let script = format!("{} internal-print-env", shell.quote(&exe.to_string_lossy()));
        let mut cmd = Command::new(&bin);
        cmd.args(*flags)
            .arg(&script)
            .env_clear()
            .current_dir(&settings.home);
        cmd.env("HOME", &settings.home);
        for key in [
            "USER",
            "PATH",
            "TERM",
            "ZDOTDIR",
            "XDG_CONFIG_HOME",
            "LOGNAME",
        ] {
            if let Some(v) = env.get(key) {
                cmd.env(key, v);
            }
        }
        match run_with_timeout(cmd, timeout) {
            Err(e) => out.push(Check::new(
                id,
                Status::Warn,
                format!("could not run a fresh {mode} {shell}: {e}"),
            )),
            Ok(vars) => {
                let fix = format!("run `modelenv install --shell {shell}`");
                for (name, want) in settings.exports() {
                    let v = vars
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str());
                    let mut c = judge(
                        settings,
                        format!("{id}.{name}"),
                        name,
                        v,
                        &want,
                        &format!("in a fresh {mode} {shell}"),
                        &fix,
                    );
                    if c.status == Status::Warn {
                        c.status = Status::Fail;
                    }
                    out.push(c);
                }
            }
        }
    }
    out
}

const MARK: &str = "\u{1}MODELENV-ENV\u{1}";

/// Hidden helper run inside the fresh shell: prints its exported environment between markers.
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

fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Result<Vec<(String, String)>> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn()?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    match child.wait_timeout(timeout)? {
        Some(_) => {}
        None => {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("timed out after {}s", timeout.as_secs());
        }
    }
    let buf = reader.join().unwrap_or_default();
    let text = String::from_utf8_lossy(&buf);
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
