//! `modelenv doctor`: proves that every library, shell, Python interpreter and the Ollama
//! service really resolve to the central locations, and names each problem with its fix.
//!
//! Checks: central locations (and free space), this process's variables judged by each
//! library's own rules, fresh login and interactive shells, the user's Python interpreters,
//! the Ollama server and service, the repo (project-local caches and configs), and links in
//! the stores that point nowhere. Slow probes (shells, interpreters, systemctl) run in
//! parallel, each with a timeout.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use wait_timeout::ChildExt;

use crate::cli::DoctorArgs;
use crate::resolve::{self, Resolved, Vars};
use crate::settings::{Env, Settings};
use crate::shell::Shell;
use crate::units::human_size;

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

pub fn run(settings: &Settings, env: &Env, args: &DoctorArgs) -> Result<ExitCode> {
    let timeout = Duration::from_secs(args.timeout);
    let mut checks = locations(settings);
    checks.extend(libraries(
        settings,
        env,
        "env",
        "in this process",
        Status::Warn,
    ));
    let shells = if args.skip_shells {
        checks.push(Check::new(
            "shell",
            Status::Skip,
            "shell startup files left alone (--no-modify-profile)",
        ));
        vec![]
    } else if args.shells.is_empty() {
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
    let (shell_checks, python_checks, ollama_checks) = if args.no_probe {
        (
            vec![Check::new(
                "shell",
                Status::Skip,
                "fresh shells not started (--no-probe)",
            )],
            vec![Check::new(
                "python",
                Status::Skip,
                "Python interpreters not probed (--no-probe)",
            )],
            ollama(settings, env, false, timeout),
        )
    } else {
        std::thread::scope(|s| {
            let sh = s.spawn(|| {
                shells
                    .iter()
                    .flat_map(|sh| fresh_shell(settings, env, *sh, timeout))
                    .collect::<Vec<_>>()
            });
            let py = s.spawn(|| pythons(settings, env, &args.pythons, timeout));
            let ol = s.spawn(|| ollama(settings, env, true, timeout));
            (
                sh.join().unwrap_or_default(),
                py.join().unwrap_or_default(),
                ol.join().unwrap_or_default(),
            )
        })
    };
    checks.extend(shell_checks);
    checks.extend(fish_universal(settings));
    checks.extend(python_checks);
    checks.extend(ollama_checks);
    checks.extend(repo_checks(settings, args.repo.as_deref()));
    checks.extend(integrity(settings));

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
                central,
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
                "python" => "Python libraries",
                "ollama" => "Ollama",
                "repo" => "The repo",
                "integrity" => "Links in the stores",
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

/// Whether `have` names the same folder as `want`: canonical paths when they exist, else lexical.
pub fn same_path(have: &Path, want: &Path) -> bool {
    match (have.canonicalize(), want.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => crate::settings::normalize(have) == crate::settings::normalize(want),
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
    let mut out: Vec<Check> = items
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
        .collect();
    // Free space where the hub cache lives, against the recommended headroom.
    if let Some(at) = settings
        .hub_cache()
        .ancestors()
        .find(|a| a.exists())
        .map(Path::to_path_buf)
        && let Ok(vfs) = rustix::fs::statvfs(&at)
    {
        let free = vfs.f_bavail * vfs.f_frsize;
        let want = settings.headroom_bytes;
        let msg = format!(
            "{} free on the filesystem of {} (headroom {})",
            human_size(free),
            show(settings, &at),
            human_size(want)
        );
        out.push(if free >= want {
            Check::new("location.free_space", Status::Pass, msg)
        } else {
            Check::new("location.free_space", Status::Warn, msg)
                .hint("free space with `modelenv prune --apply`, or `modelenv config set headroom 50GB` to change the target")
        });
    }
    out
}

/// Each library's resolution under `vars`, compared with the central locations.
/// `unset` is the status when CUSTOM_MODEL_DIR is missing altogether (`Skip`: say nothing).
fn libraries(
    settings: &Settings,
    vars: &dyn Vars,
    prefix: &str,
    origin: &str,
    unset: Status,
) -> Vec<Check> {
    let fix = |var: Option<&str>| match var {
        Some(v) => format!(
            "fix or remove {v} where it is set (your shell startup files, .env, the service); `modelenv install` writes the right values"
        ),
        None => "run `modelenv install` and open a new shell".to_owned(),
    };
    let hub_central = settings.hub_cache();
    let mut out = Vec::new();
    let mut judge = |id: &str, library: &str, r: Resolved, want: &Path| {
        let id = format!("{prefix}.{id}");
        let c = if let Some(d) = &r.defect {
            Check::new(id, Status::Fail, format!("{library}: {d} {origin}")).hint(fix(r.from))
        } else if same_path(&r.path, want) {
            Check::new(
                id,
                Status::Pass,
                format!("{library} uses {} {origin}", show(settings, want)),
            )
        } else {
            let why = r
                .from
                .map(|v| format!(" (from {v})"))
                .unwrap_or_else(|| " (its default)".into());
            Check::new(
                id,
                Status::Fail,
                format!(
                    "{library} uses {}{why} {origin}, not {}",
                    r.path.display(),
                    show(settings, want)
                ),
            )
            .hint(fix(r.from))
        };
        out.push(c.path(&r.path));
    };
    judge(
        "huggingface_hub",
        "huggingface_hub and mlx-lm (hub cache)",
        resolve::hub_cache(vars),
        &hub_central,
    );
    judge(
        "datasets",
        "datasets (Arrow cache, HF_DATASETS_CACHE)",
        resolve::datasets_cache(vars),
        &settings.datasets_cache(),
    );
    judge(
        "llama_cpp",
        "llama.cpp (-hf downloads)",
        resolve::llama_cache(vars),
        &hub_central,
    );
    judge(
        "ollama",
        "Ollama (OLLAMA_MODELS)",
        resolve::ollama_models(vars),
        &settings.ollama_models,
    );
    // transformers 4.x lets the legacy variables win: any value other than the hub cache splits it.
    for legacy in [
        "TRANSFORMERS_CACHE",
        "PYTORCH_TRANSFORMERS_CACHE",
        "PYTORCH_PRETRAINED_BERT_CACHE",
    ] {
        if vars.var(legacy).is_some() {
            let r = resolve::transformers_cache(vars, 4);
            let id = format!("{prefix}.transformers");
            let c = match &r.defect {
                Some(d) => Check::new(id, Status::Fail, format!("transformers: {d} {origin}")).hint(fix(r.from)),
                None if same_path(&r.path, &hub_central) => {
                    Check::new(id, Status::Pass, format!("transformers: {legacy} equals the hub cache {origin} (harmless on 4.x and 5.x)"))
                }
                None => Check::new(
                    id,
                    Status::Fail,
                    format!("transformers: {legacy}={} {origin} splits the cache on 4.x (from_pretrained uses it, everything else the hub cache) and is ignored on 5.x", r.path.display()),
                )
                .hint(format!("set {legacy} to {} or remove it", show(settings, &hub_central))),
            };
            out.push(c.path(&r.path));
            break;
        }
    }
    if let Some(x) = vars.var("HF_XET_CACHE") {
        let p = PathBuf::from(x);
        if x.contains('$') || !p.is_absolute() && !x.starts_with('~') {
            out.push(Check::new(format!("{prefix}.xet"), Status::Fail, format!("HF_XET_CACHE={x} {origin}: xet-core expands `~` but not `$` variables, and it must be absolute")).hint(fix(Some("HF_XET_CACHE"))));
        }
    }
    match vars.var("CUSTOM_MODEL_DIR") {
        Some(v) if same_path(Path::new(v), &settings.custom_model_dir) => {}
        Some(v) => out.push(
            Check::new(
                format!("{prefix}.custom_model_dir"),
                Status::Fail,
                format!(
                    "CUSTOM_MODEL_DIR={v} {origin}, not {}",
                    show(settings, &settings.custom_model_dir)
                ),
            )
            .hint(fix(Some("CUSTOM_MODEL_DIR"))),
        ),
        None if unset == Status::Skip => {}
        None => out.push(
            Check::new(
                format!("{prefix}.custom_model_dir"),
                unset,
                format!("CUSTOM_MODEL_DIR is not set {origin}"),
            )
            .hint(fix(None)),
        ),
    }
    out
}

/// Starts `shell` as a login and as an interactive shell with a clean environment and checks
/// what it really exports.
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
    let Ok(exe) = std::env::current_exe() else {
        return vec![Check::new(
            format!("shell.{shell}"),
            Status::Skip,
            "cannot locate the modelenv binary to read the shell's environment",
        )];
    };
    let results: Vec<(&str, Result<BTreeMap<String, String>>)> = std::thread::scope(|s| {
        let handles: Vec<_> = modes
            .iter()
            .map(|(mode, flags)| {
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
                    (
                        *mode,
                        run_probe(cmd, timeout).and_then(|out| parse_env(&out)),
                    )
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
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
                    libraries(settings, &vars, &id, &origin, Status::Skip)
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
fn fish_universal(settings: &Settings) -> Vec<Check> {
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

/// Runs a probe with stdin closed, stderr dropped, and a time limit; returns its stdout.
fn run_probe(mut cmd: Command, timeout: Duration) -> Result<Vec<u8>> {
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
    Ok(reader.join().unwrap_or_default())
}

const PY_PROBE: &str = r#"
import json, os, sys
out = {"executable": sys.executable, "version": sys.version.split()[0]}
def version(name):
    try:
        from importlib.metadata import version as v
        return v(name)
    except Exception:
        return None
try:
    import huggingface_hub
    from huggingface_hub import constants as c
    out["huggingface_hub"] = {"version": getattr(huggingface_hub, "__version__", None), "HF_HOME": str(c.HF_HOME), "HF_HUB_CACHE": str(c.HF_HUB_CACHE)}
except ImportError:
    out["huggingface_hub"] = None
except Exception as e:
    out["huggingface_hub"] = {"error": repr(e)}
try:
    import datasets.config as dc
    out["datasets"] = {"version": version("datasets"), "HF_DATASETS_CACHE": str(dc.HF_DATASETS_CACHE)}
except ImportError:
    out["datasets"] = None
except Exception as e:
    out["datasets"] = {"error": repr(e)}
out["transformers"] = version("transformers")
try:
    import importlib.util
    out["mlx_lm"] = importlib.util.find_spec("mlx_lm") is not None
except Exception:
    out["mlx_lm"] = False
print("\x01MODELENV-PY\x01" + json.dumps(out))
"#;

/// The interpreters to ask: python3/python on PATH, $VIRTUAL_ENV, $CONDA_PREFIX, --python.
fn interpreters(env: &Env, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let path = env.get("PATH").unwrap_or("");
    for name in ["python3", "python"] {
        if let Ok(p) = which::which_in(name, Some(path), "/") {
            found.push(p);
        }
    }
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(v) = env.get(var) {
            found.push(Path::new(v).join("bin/python"));
        }
    }
    found.extend(extra.iter().cloned());
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for p in found {
        let key = p.canonicalize().unwrap_or_else(|_| p.clone());
        if !seen.contains(&key) {
            seen.push(key);
            out.push(p);
        }
    }
    out
}

fn pythons(settings: &Settings, env: &Env, extra: &[PathBuf], timeout: Duration) -> Vec<Check> {
    let list = interpreters(env, extra);
    if list.is_empty() {
        return vec![Check::new(
            "python",
            Status::Skip,
            "no Python interpreter found on PATH",
        )];
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = list
            .iter()
            .map(|py| s.spawn(move || probe_python(settings, env, py, timeout)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

fn probe_python(settings: &Settings, env: &Env, py: &Path, timeout: Duration) -> Vec<Check> {
    let name = py.display().to_string();
    let mut cmd = Command::new(py);
    cmd.args(["-c", PY_PROBE]);
    // The user's environment (PYTHONPATH and friends kept), with the exports a new shell has
    // filled in where this process predates the install.
    for (k, want) in settings.exports() {
        if env.get(k).is_none() {
            cmd.env(k, want);
        }
    }
    let out = match run_probe(cmd, timeout) {
        Ok(o) => o,
        Err(e) => {
            return vec![Check::new(
                format!("python.{name}"),
                Status::Warn,
                format!("{name} could not be probed: {e}"),
            )];
        }
    };
    let text = String::from_utf8_lossy(&out);
    let Some(json) = text.split("\u{1}MODELENV-PY\u{1}").nth(1) else {
        return vec![Check::new(
            format!("python.{name}"),
            Status::Warn,
            format!("{name} did not answer the probe (a broken interpreter?)"),
        )];
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json.trim()) else {
        return vec![Check::new(
            format!("python.{name}"),
            Status::Warn,
            format!("{name} gave an unreadable answer"),
        )];
    };
    let mut checks = Vec::new();
    let hub_central = settings.hub_cache();
    let lib = |id: &str, label: &str, value: &serde_json::Value, key: &str, want: &Path| -> Check {
        let cid = format!("python.{name}.{id}");
        if value.is_null() {
            return Check::new(
                cid,
                Status::Skip,
                format!("{label} is not installed for {name}"),
            );
        }
        if let Some(err) = value.get("error") {
            return Check::new(
                cid,
                Status::Warn,
                format!("{label} failed to import in {name}: {err}"),
            );
        }
        let ver = value.get("version").and_then(|v| v.as_str()).unwrap_or("?");
        let got = value.get(key).and_then(|v| v.as_str()).unwrap_or("");
        if same_path(Path::new(got), want) {
            Check::new(
                cid,
                Status::Pass,
                format!("{label} {ver} in {name} uses {}", show(settings, want)),
            )
            .path(Path::new(got))
        } else {
            Check::new(cid, Status::Fail, format!("{label} {ver} in {name} resolves {key} to {got}, not {}", show(settings, want)))
                .hint("check HF_HOME/HF_HUB_CACHE/HF_DATASETS_CACHE in that environment (a .env loaded by the project, a conda activate script, the package itself)")
                .path(Path::new(got))
        }
    };
    checks.push(lib(
        "huggingface_hub",
        "huggingface_hub",
        &v["huggingface_hub"],
        "HF_HUB_CACHE",
        &hub_central,
    ));
    checks.push(lib(
        "datasets",
        "datasets",
        &v["datasets"],
        "HF_DATASETS_CACHE",
        &settings.datasets_cache(),
    ));
    if v["mlx_lm"].as_bool() == Some(true) {
        let hub_ok = checks[0].status;
        checks.push(Check::new(
            format!("python.{name}.mlx_lm"),
            if hub_ok == Status::Fail {
                Status::Fail
            } else {
                Status::Pass
            },
            format!("mlx-lm in {name} downloads through huggingface_hub's hub cache"),
        ));
    }
    if let Some(tv) = v["transformers"].as_str() {
        let major: u32 = tv
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(5);
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        for k in [
            "HOME",
            "HF_HOME",
            "HF_HUB_CACHE",
            "HUGGINGFACE_HUB_CACHE",
            "XDG_CACHE_HOME",
            "TRANSFORMERS_CACHE",
            "PYTORCH_TRANSFORMERS_CACHE",
            "PYTORCH_PRETRAINED_BERT_CACHE",
        ] {
            if let Some(x) = env.get(k) {
                vars.insert(k.into(), x.into());
            }
        }
        vars.entry("HOME".into())
            .or_insert_with(|| settings.home.to_string_lossy().into_owned());
        let r = resolve::transformers_cache(&vars, major);
        let cid = format!("python.{name}.transformers");
        checks.push(if same_path(&r.path, &hub_central) {
            Check::new(
                cid,
                Status::Pass,
                format!("transformers {tv} in {name} uses the hub cache"),
            )
        } else {
            Check::new(
                cid,
                Status::Fail,
                format!(
                    "transformers {tv} in {name}: {} = {} splits the cache",
                    r.from.unwrap_or("its default"),
                    r.path.display()
                ),
            )
            .hint("set TRANSFORMERS_CACHE to the hub cache or remove it")
        });
    }
    checks
}

/// The Ollama server and service: where do they really store models?
fn ollama(settings: &Settings, env: &Env, probe: bool, timeout: Duration) -> Vec<Check> {
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

/// `p` relative to `root`, for check ids and messages.
fn rel_to(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

fn repo_checks(settings: &Settings, repo: Option<&Path>) -> Vec<Check> {
    let root = match repo {
        Some(r) => Some(if r.is_absolute() {
            r.to_path_buf()
        } else {
            settings.cwd.join(r)
        }),
        None => crate::repo::git_root(&settings.cwd),
    };
    let Some(root) = root else {
        return vec![Check::new(
            "repo",
            Status::Skip,
            "not inside a git repository (pass --repo DIR)",
        )];
    };
    let mut out = Vec::new();
    let exclude = [
        settings.hf_home.clone(),
        settings.custom_model_dir.clone(),
        settings.ollama_models.clone(),
    ];
    let caches = crate::scan::caches(&root, &exclude);
    for c in &caches {
        let rel = rel_to(&root, &c.path);
        out.push(
            Check::new(format!("repo.cache.{rel}"), Status::Fail, format!("project-local model cache {rel} ({}) keeps its own copies", human_size(c.bytes)))
                .hint("run `modelenv migrate` to see the plan, then `modelenv migrate --apply` to move it into the central cache")
                .path(&c.path),
        );
    }
    for c in crate::scan::configs(&root) {
        let rel = rel_to(&root, &c.path);
        out.push(
            Check::new(
                format!("repo.config.{rel}:{}", c.line),
                Status::Fail,
                format!(
                    "{rel}:{} sets {}={} (a project-local cache)",
                    c.line, c.key, c.value
                ),
            )
            .hint(format!(
                "point it at the central hub cache ({}), read from the environment",
                show(settings, &settings.hub_cache())
            ))
            .path(&c.path),
        );
    }
    let env_example = root.join(".env.example");
    match std::fs::read_to_string(&env_example) {
        Ok(text) => {
            let mut orig = crate::dotenv::Originals::default();
            match crate::dotenv::apply(&text, settings, &mut orig, ".env.example") {
                Ok(new) if new == text => out.push(Check::new(
                    "repo.env_example",
                    Status::Pass,
                    "the root .env.example has the central locations",
                )),
                Ok(_) => out.push(
                    Check::new(
                        "repo.env_example",
                        Status::Fail,
                        "the root .env.example lacks or differs from the central locations",
                    )
                    .hint("run `modelenv install` in the repo")
                    .path(&env_example),
                ),
                Err(e) => out.push(Check::new(
                    "repo.env_example",
                    Status::Warn,
                    format!("the root .env.example: {e}"),
                )),
            }
        }
        Err(_) => out.push(
            Check::new(
                "repo.env_example",
                Status::Warn,
                "the repo has no root .env.example with the central locations",
            )
            .hint("run `modelenv install` in the repo"),
        ),
    }
    if !caches.is_empty()
        && let Ok(git) = which::which("git")
    {
        for c in &caches {
            let ignored = Command::new(&git)
                .arg("-C")
                .arg(&root)
                .args(["check-ignore", "-q"])
                .arg(&c.path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ignored {
                let rel = rel_to(&root, &c.path);
                out.push(
                    Check::new(
                        format!("repo.gitignore.{rel}"),
                        Status::Warn,
                        format!("{rel} is not git-ignored"),
                    )
                    .hint(format!(
                        "add `{}/` to .gitignore",
                        c.path
                            .file_name()
                            .map(|n| n.to_string_lossy())
                            .unwrap_or_default()
                    )),
                );
            }
        }
    }
    out
}

/// Links in the central stores whose target is gone, such as a model archived to a drive that
/// is not plugged in.
fn integrity(settings: &Settings) -> Vec<Check> {
    let mut out = Vec::new();
    for dir in [settings.hub_cache(), settings.custom_model_dir.clone()] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_symlink()) && !p.exists() {
                let target = std::fs::read_link(&p).unwrap_or_default();
                let name = e.file_name().to_string_lossy().into_owned();
                out.push(
                    Check::new(format!("integrity.{name}"), Status::Warn, format!("{name} points to {}, which is missing (an archive drive not plugged in?)", target.display()))
                        .hint("plug the drive in, or `modelenv models restore` once it is back")
                        .path(&p),
                );
            }
        }
    }
    if out.is_empty() {
        out.push(Check::new(
            "integrity",
            Status::Pass,
            "no link in the stores points nowhere",
        ));
    }
    out
}

#[cfg(test)]
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
