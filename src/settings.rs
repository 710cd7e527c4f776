//! The one place that turns HOME, XDG variables, the config file and flags into absolute locations.
//!
//! Everything below `Settings` takes these resolved values; nothing else reads the process
//! environment or the real HOME, so every command can be run against a temporary HOME.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::config::Config;

/// A snapshot of the environment variables modelenv may consult.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<OsString, OsString>,
}

impl Env {
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os().collect(),
        }
    }

    /// An environment made of exactly these pairs (for tests and probes).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Env {
            vars: pairs
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
        }
    }

    /// An environment made of these variables (what a shell printed).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Env {
            vars: vars
                .into_iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
        }
    }

    /// The value as UTF-8, `None` when unset or not valid UTF-8.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(std::ffi::OsStr::new(key))?.to_str()
    }

    /// Set and non-empty: the XDG rule for directory variables.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }
}

/// Locations given on the command line; they win over the config file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub hf_home: Option<PathBuf>,
    pub custom_model_dir: Option<PathBuf>,
    pub ollama_models: Option<PathBuf>,
    /// `install --bin-dir`: the folder the managed block puts on PATH.
    pub bin_dir: Option<PathBuf>,
    /// What a fresh login shell exports (asked by install): adopted after this process's own
    /// environment, for a modelenv started where the login files were not read.
    pub login_env: Option<Env>,
}

/// Where a resolved location came from, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Default,
    /// Adopted from this process's environment: where the user's libraries look today.
    Environment,
    /// Adopted from a fresh login shell's environment (this process did not have it).
    LoginShell,
    /// `/etc/modelenv/config.toml`, written by `install --system` for every user.
    System,
    Config,
    Flag,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Default => "the libraries' default",
            Source::Environment => "adopted from the environment",
            Source::LoginShell => "adopted from what a fresh login shell exports",
            Source::System => "the system-wide config",
            Source::Config => "modelenv's config",
            Source::Flag => "the command line",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub home: PathBuf,
    pub cwd: PathBuf,
    pub hf_home: PathBuf,
    pub hf_home_source: Source,
    pub custom_model_dir: PathBuf,
    pub custom_model_dir_source: Source,
    pub ollama_models: PathBuf,
    pub ollama_models_source: Source,
    /// Hub caches other than the central one that the user's environment or the libraries'
    /// defaults point at (they may hold models: `usage` shows them, `migrate --store` merges).
    pub other_hub_caches: Vec<PathBuf>,
    /// Locations in the environment that the managed keys cannot express, each with its fix.
    pub unexpressible: Vec<String>,
    pub config_home: PathBuf,
    pub config_path: PathBuf,
    /// The config file's text these settings were read from (`None`: no file), so a command
    /// that takes the lock later can tell that another one changed it meanwhile.
    pub config_text: Option<String>,
    /// The system-wide config every user's modelenv reads (below the user's own config).
    pub system_config_path: PathBuf,
    /// `install --system`'s undo record, journal and lock (`/var/lib/modelenv`, or
    /// `MODELENV_SYSTEM_STATE`): root's, never a user's.
    pub system_state_dir: PathBuf,
    pub state_dir: PathBuf,
    /// `${XDG_CACHE_HOME:-~/.cache}/modelenv`: the hash cache.
    pub cache_dir: PathBuf,
    /// Free space to keep on a store's filesystem, as configured (`headroom`); see
    /// [`Settings::headroom_for`] for the default.
    pub headroom: Option<u64>,
    /// Whether TRANSFORMERS_CACHE is exported (`transformers_cache = false` omits it from the
    /// shells, `init` and `.env.example`; only transformers 4.x reads it).
    pub transformers_cache: bool,
    /// A folder the managed block puts on PATH when a shell lacks it (`install --bin-dir`,
    /// which install.sh passes; remembered in the config as `bin_dir`).
    pub bin_dir: Option<PathBuf>,
    /// `${ZDOTDIR:-$HOME}`: where zsh reads `.zshenv`.
    pub zdotdir: PathBuf,
    /// Basename of `$SHELL`, if set.
    pub login_shell: Option<String>,
    /// Test hook `MODELENV_TEST_KILL_AFTER=N`: a multi-step command kills itself with SIGKILL
    /// after N changes, so tests can prove a rerun finishes the work.
    pub test_kill_after: Option<u64>,
    /// Test hook `MODELENV_TEST_MTIME_AGE=1`: a file's age counts from its mtime alone, so
    /// tests can make old files with `utimes` (which cannot set ctime).
    pub test_mtime_age: bool,
}

/// The most the default headroom asks for.
pub const DEFAULT_HEADROOM_CAP: u64 = 50_000_000_000;

/// The exports modelenv writes, in the order it writes them.
pub const EXPORT_NAMES: [&str; 4] = [
    "HF_HOME",
    "TRANSFORMERS_CACHE",
    "HF_DATASETS_CACHE",
    "CUSTOM_MODEL_DIR",
];

impl Settings {
    pub fn resolve(env: &Env, cwd: &Path, overrides: &Overrides) -> Result<Settings> {
        Self::resolve_with(env, cwd, overrides, None, true)
    }

    /// For `install --system`: the flags and the system config, never the user's own config
    /// (root's locations, `bin_dir` and switches are not every user's).
    pub fn resolve_for_system(env: &Env, cwd: &Path, overrides: &Overrides) -> Result<Settings> {
        Self::resolve_with(env, cwd, overrides, None, false)
    }

    /// For commands that must work whatever the config file says (uninstall, `config`, which
    /// fixes it): each problem in the config is noted in `problems` and the default is used.
    pub fn resolve_lenient(
        env: &Env,
        cwd: &Path,
        overrides: &Overrides,
        problems: &mut Vec<String>,
    ) -> Result<Settings> {
        Self::resolve_with(env, cwd, overrides, Some(problems), true)
    }

    fn resolve_with(
        env: &Env,
        cwd: &Path,
        overrides: &Overrides,
        mut lenient: Option<&mut Vec<String>>,
        user_config: bool,
    ) -> Result<Settings> {
        let home = match env.non_empty("HOME") {
            Some(h) => PathBuf::from(h),
            None => {
                dirs::home_dir().context("cannot determine the home directory: HOME is not set")?
            }
        };
        if !home.is_absolute() {
            bail!("HOME must be an absolute path, got {}", home.display());
        }
        let home = normalize(&home);
        let xdg = |key: &str, default: &str| -> PathBuf {
            match env.non_empty(key) {
                Some(v) if Path::new(v).is_absolute() => normalize(Path::new(v)),
                _ => home.join(default),
            }
        };
        let cache_home = xdg("XDG_CACHE_HOME", ".cache");
        let config_home = xdg("XDG_CONFIG_HOME", ".config");
        let state_home = xdg("XDG_STATE_HOME", ".local/state");
        let config_path = config_home.join("modelenv").join("config.toml");
        let loaded = if user_config {
            Config::load(&config_path)
        } else {
            Ok(Config::empty(&config_path))
        };
        let config = match (loaded, lenient.as_deref_mut()) {
            (Ok(c), _) => c,
            (Err(e), Some(problems)) => {
                problems.push(format!("{e:#}"));
                Config::empty(&config_path)
            }
            (Err(e), None) => return Err(e),
        };
        let system_config_path = env
            .non_empty("MODELENV_SYSTEM_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/etc/modelenv/config.toml"));
        let system_state_dir = env
            .non_empty("MODELENV_SYSTEM_STATE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/lib/modelenv"));
        let system_config = match (Config::load(&system_config_path), lenient.as_deref_mut()) {
            (Ok(c), _) => c,
            (Err(e), Some(problems)) => {
                problems.push(format!("{e:#}"));
                Config::empty(&system_config_path)
            }
            (Err(e), None) => return Err(e),
        };
        // A config problem is an error, or for a lenient caller a note and the default.
        let problems = std::cell::RefCell::new(lenient);
        let soft = |r: Result<Option<PathBuf>>| -> Result<Option<PathBuf>> {
            match (r, problems.borrow_mut().as_deref_mut()) {
                (Err(e), Some(p)) => {
                    p.push(format!("{e:#}"));
                    Ok(None)
                }
                (r, _) => r,
            }
        };

        let expand_in = |config: &Config, path: &Path, key: &str| -> Result<Option<PathBuf>> {
            match config.get_str(key)? {
                None => Ok(None),
                Some(raw) => {
                    let p = expand_path(&raw, &home);
                    if !p.is_absolute() {
                        bail!(
                            "{}: `{key}` must be an absolute path (or start with ~/), got {raw:?}",
                            path.display()
                        );
                    }
                    Ok(Some(normalize(&p)))
                }
            }
        };
        let expand_cfg = |key: &str| expand_in(&config, &config_path, key);
        let expand_system = |key: &str| expand_in(&system_config, &system_config_path, key);
        // What the libraries resolve today, from this process's environment (huggingface_hub
        // expands `~` and `$VAR` in HF_HOME; a relative value is per-project, never adopted).
        // Then what a fresh login shell exports, when install asked one.
        let adopted_from = |key: &str, expand: bool| -> Option<(PathBuf, Source)> {
            let login = overrides.login_env.as_ref();
            [
                (Some(env), Source::Environment),
                (login, Source::LoginShell),
            ]
            .into_iter()
            .find_map(|(e, source)| {
                let e = e?;
                let v = e.non_empty(key)?;
                let p = if expand {
                    expand_env_path(v, &home, e).ok()?
                } else {
                    PathBuf::from(v)
                };
                p.is_absolute().then(|| (normalize(&p), source))
            })
        };
        let adopted = |key: &str, expand: bool| adopted_from(key, expand).map(|(p, _)| p);
        let pick = |flag: &Option<PathBuf>,
                    key: &str,
                    env_value: Option<(PathBuf, Source)>,
                    default: PathBuf|
         -> Result<(PathBuf, Source)> {
            if let Some(f) = flag {
                // A quoted `~/…` reaches us unexpanded; `$` in a flag is taken literally.
                let f = match f.to_str().and_then(|s| s.strip_prefix("~/")) {
                    Some(rest) => home.join(rest),
                    None if f == Path::new("~") => home.clone(),
                    None => f.clone(),
                };
                let p = if f.is_absolute() { f } else { cwd.join(f) };
                return Ok((normalize(&p), Source::Flag));
            }
            Ok(
                match (soft(expand_cfg(key))?, soft(expand_system(key))?, env_value) {
                    (Some(p), _, _) => (p, Source::Config),
                    (None, Some(p), _) => (p, Source::System),
                    (None, None, Some((p, source))) => (p, source),
                    (None, None, None) => (default, Source::Default),
                },
            )
        };
        let default_hf_home = cache_home.join("huggingface");
        let env_hf_home = adopted("HF_HOME", true);
        // A login shell's own XDG_CACHE_HOME moves the libraries' default there.
        let login_default = match (env.non_empty("XDG_CACHE_HOME"), &overrides.login_env) {
            (None, Some(login)) => login
                .non_empty("XDG_CACHE_HOME")
                .map(Path::new)
                .filter(|p| p.is_absolute())
                .map(|p| (normalize(p).join("huggingface"), Source::LoginShell)),
            _ => None,
        };
        let (hf_home, hf_home_source) = pick(
            &overrides.hf_home,
            "hf_home",
            adopted_from("HF_HOME", true).or(login_default),
            default_hf_home.clone(),
        )?;
        let (custom_model_dir, custom_model_dir_source) = pick(
            &overrides.custom_model_dir,
            "custom_model_dir",
            adopted_from("CUSTOM_MODEL_DIR", true),
            home.join("models"),
        )?;
        // Ollama takes OLLAMA_MODELS as given (no `~`, no `$VAR`).
        let (ollama_models, ollama_models_source) = pick(
            &overrides.ollama_models,
            "ollama_models",
            adopted_from("OLLAMA_MODELS", false),
            home.join(".ollama").join("models"),
        )?;
        let hub = hf_home.join("hub");
        let env_hub = ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"]
            .iter()
            .find_map(|k| adopted(k, true).map(|p| (*k, p)));
        let mut other_hub_caches: Vec<PathBuf> = [
            env_hf_home.map(|h| h.join("hub")),
            env_hub.as_ref().map(|(_, p)| p.clone()),
            Some(default_hf_home.join("hub")),
        ]
        .into_iter()
        .flatten()
        .filter(|p| *p != hub)
        .collect();
        other_hub_caches.dedup();
        let mut unexpressible = Vec::new();
        if let Some((key, p)) = &env_hub
            && *p != hub
        {
            let fix = match (p.file_name(), p.parent()) {
                (Some(n), Some(parent)) if n == "hub" => format!(
                    "either make {} the central HF_HOME (`modelenv install --hf-home {}`), or unset {key} and merge its models with `modelenv migrate --store {}`",
                    parent.display(),
                    parent.display(),
                    p.display()
                ),
                _ => format!(
                    "unset {key} (HF_HOME can only name a hub cache called `hub`) and merge its models with `modelenv migrate --store {}`",
                    p.display()
                ),
            };
            unexpressible.push(format!(
                "{key}={} is where huggingface_hub keeps models in this environment, not the central {}: {fix}",
                p.display(),
                hub.display()
            ));
        }
        if let Some(p) = adopted("HF_DATASETS_CACHE", false)
            && p != hf_home.join("datasets")
        {
            unexpressible.push(format!(
                "HF_DATASETS_CACHE={} overrides the central {}: unset it, or keep it on purpose (modelenv exports HF_DATASETS_CACHE with the central value in the shells it configures)",
                p.display(),
                hf_home.join("datasets").display()
            ));
        }
        let headroom = config.get_str("headroom").and_then(|v| {
            v.map(|v| {
                crate::units::parse_size(&v)
                    .with_context(|| format!("{}: key `headroom`", config_path.display()))
            })
            .transpose()
        });
        let headroom = match (headroom, problems.borrow_mut().as_deref_mut()) {
            (Ok(h), _) => h,
            (Err(e), Some(p)) => {
                p.push(format!("{e:#}"));
                None
            }
            (Err(e), None) => return Err(e),
        };
        let transformers_cache = [&config, &system_config]
            .into_iter()
            .map(|c| c.get_bool("transformers_cache"))
            .find(|r| !matches!(r, Ok(None)))
            .unwrap_or(Ok(None));
        let transformers_cache = match (transformers_cache, problems.borrow_mut().as_deref_mut()) {
            (Ok(t), _) => t.unwrap_or(true),
            (Err(e), Some(p)) => {
                p.push(format!("{e:#}"));
                true
            }
            (Err(e), None) => return Err(e),
        };
        let bin_dir = match &overrides.bin_dir {
            // A quoted `~/…` (or `--bin-dir=~/…`) reaches us unexpanded.
            Some(d) => Some(normalize(&cwd.join(match d.to_str() {
                Some("~") => home.clone(),
                Some(s) if s.starts_with("~/") => home.join(&s[2..]),
                _ => d.clone(),
            }))),
            None => match soft(expand_cfg("bin_dir"))? {
                Some(d) => Some(d),
                None => soft(expand_system("bin_dir"))?,
            },
        };
        let zdotdir = match env.non_empty("ZDOTDIR") {
            Some(z) if Path::new(z).is_absolute() => normalize(Path::new(z)),
            _ => home.clone(),
        };
        let login_shell = env.non_empty("SHELL").map(|s| {
            Path::new(s)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| s.to_owned())
        });
        Ok(Settings {
            home,
            cwd: cwd.to_path_buf(),
            hf_home,
            hf_home_source,
            custom_model_dir,
            custom_model_dir_source,
            ollama_models,
            ollama_models_source,
            other_hub_caches,
            unexpressible,
            config_home,
            config_text: config.original().map(str::to_owned),
            config_path,
            system_config_path,
            system_state_dir,
            state_dir: state_home.join("modelenv"),
            cache_dir: cache_home.join("modelenv"),
            headroom,
            transformers_cache,
            bin_dir,
            zdotdir,
            login_shell,
            test_kill_after: env
                .non_empty("MODELENV_TEST_KILL_AFTER")
                .and_then(|v| v.parse().ok()),
            test_mtime_age: env.non_empty("MODELENV_TEST_MTIME_AGE") == Some("1"),
        })
    }

    /// `p` made absolute against the folder modelenv was started in. Nothing is resolved as
    /// text (`link/..` is not the folder holding `link`); identity is the guard's business.
    pub fn absolute(&self, p: &Path) -> PathBuf {
        self.cwd.join(p)
    }

    /// The settings `install --system` and `uninstall --system` act with: the system config in
    /// place of the user's, the system state folder for the undo record, journal and lock, and
    /// no HOME, so every location is written as the absolute path all users share.
    pub fn for_system(&self) -> Settings {
        Settings {
            home: PathBuf::from("/"),
            config_path: self.system_config_path.clone(),
            state_dir: self.system_state_dir.clone(),
            ..self.clone()
        }
    }

    /// The free space to keep on a filesystem of `disk_bytes`: the configured `headroom`, else
    /// a tenth of the disk, at most 50 GB (room for a few large downloads, and no warning on
    /// an ordinary laptop disk that is not nearly full).
    pub fn headroom_for(&self, disk_bytes: u64) -> u64 {
        self.headroom
            .unwrap_or_else(|| (disk_bytes / 10).min(DEFAULT_HEADROOM_CAP))
    }

    /// `$HF_HOME/hub`: huggingface_hub's cache and the value for `TRANSFORMERS_CACHE`.
    pub fn hub_cache(&self) -> PathBuf {
        self.hf_home.join("hub")
    }

    pub fn datasets_cache(&self) -> PathBuf {
        self.hf_home.join("datasets")
    }

    /// The folders of HF_HOME the libraries fill by their own rules, with what each is: the
    /// hub, datasets and Xet caches, huggingface_hub's assets and the modules datasets and
    /// transformers write (`HF_HOME/assets`, `HF_HOME/modules` by default).
    pub fn library_caches(&self) -> [(&'static str, PathBuf); 5] {
        [
            ("the hub cache", self.hub_cache()),
            ("the datasets cache", self.datasets_cache()),
            ("the Xet cache", self.hf_home.join("xet")),
            (
                "huggingface_hub's assets cache",
                self.hf_home.join("assets"),
            ),
            ("the libraries' modules cache", self.hf_home.join("modules")),
        ]
    }

    /// The exported variables and their values, in `EXPORT_NAMES` order.
    /// TRANSFORMERS_CACHE is left out when `transformers_cache = false`.
    pub fn exports(&self) -> Vec<(&'static str, PathBuf)> {
        let mut v = vec![
            (EXPORT_NAMES[0], self.hf_home.clone()),
            (EXPORT_NAMES[1], self.hub_cache()),
            (EXPORT_NAMES[2], self.datasets_cache()),
            (EXPORT_NAMES[3], self.custom_model_dir.clone()),
        ];
        if !self.transformers_cache {
            v.remove(1);
        }
        v
    }

    /// The path relative to HOME when it lies strictly below it.
    pub fn under_home<'a>(&self, p: &'a Path) -> Option<&'a Path> {
        if self.home == Path::new("/") {
            return None;
        }
        p.strip_prefix(&self.home)
            .ok()
            .filter(|r| !r.as_os_str().is_empty())
    }

    /// The path as a user would type it: `~/…` below HOME, else as is.
    pub fn tilde(&self, p: &Path) -> String {
        match self.under_home(p) {
            Some(rest) => format!("~/{}", rest.display()),
            None => p.display().to_string(),
        }
    }
}

/// Refuses central locations that one of the places modelenv writes them could not hold
/// exactly: text that is not UTF-8, or a control character (a newline would start a line of
/// its own, a marker line perhaps, in every startup file, `.env` and the config).
pub fn check_locations(settings: &Settings) -> Result<()> {
    if let Some(dir) = &settings.bin_dir
        && dir.to_string_lossy().contains(':')
    {
        bail!(
            "--bin-dir {}: a `:` would split it into two PATH entries (one of them relative); choose a folder without one",
            dir.display()
        );
    }
    let named = |source: Source, flag: &'static str, key: &'static str| {
        if source == Source::Flag { flag } else { key }
    };
    for (flag, p) in [
        (
            named(settings.hf_home_source, "--hf-home", "HF_HOME"),
            &settings.hf_home,
        ),
        (
            named(
                settings.custom_model_dir_source,
                "--custom-model-dir",
                "CUSTOM_MODEL_DIR",
            ),
            &settings.custom_model_dir,
        ),
    ]
    .into_iter()
    .chain(settings.bin_dir.as_ref().map(|d| ("--bin-dir", d)))
    {
        let Some(s) = p.to_str() else {
            bail!("{flag} {}: not UTF-8; choose another location", p.display());
        };
        if let Some(c) = s.chars().find(|c| c.is_control() && *c != '\t') {
            bail!(
                "{flag} {s:?} contains the control character {c:?}, which startup files, .env files and the config cannot hold; choose another location"
            );
        }
        let stored = settings.tilde(p);
        if normalize(&expand_path(&stored, &settings.home)) != *p {
            bail!(
                "{flag} {s:?}: the config file would read {stored:?} back as another location; choose another location"
            );
        }
    }
    check_layout(settings)?;
    Ok(())
}

/// Refuses a CUSTOM_MODEL_DIR that is, or lies inside, a folder a library owns
/// ([`Settings::library_caches`]: huggingface_hub reports every folder of the hub cache that
/// is not a repo as corrupt, and `migrate --stray` moves such folders out into
/// CUSTOM_MODEL_DIR). Compared by identity: both resolved.
pub fn check_layout(settings: &Settings) -> Result<()> {
    let custom = crate::fsutil::resolve_existing(&settings.custom_model_dir);
    for (what, dir) in settings.library_caches() {
        if custom.starts_with(crate::fsutil::resolve_existing(&dir)) {
            bail!(
                "CUSTOM_MODEL_DIR {} lies inside {what} {} (HF_HOME {}), which the Hugging Face libraries own; choose a folder outside it (nothing was changed)",
                settings.custom_model_dir.display(),
                dir.display(),
                settings.hf_home.display()
            );
        }
    }
    Ok(())
}

/// Expands a leading `~` or `~/` with HOME from Settings; everything else is taken as written
/// (a `$` too), so a location reads back exactly as install stored it and the shells export it.
pub fn expand_path(raw: &str, home: &Path) -> PathBuf {
    match raw.strip_prefix('~') {
        Some("") => home.to_path_buf(),
        Some(rest) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(raw),
    }
}

/// Expands `~` and `$VAR`/`${VAR}` the way a shell would (and huggingface_hub does for
/// HF_HOME), with HOME taken from Settings. Only for values read from the environment.
pub fn expand_env_path(raw: &str, home: &Path, env: &Env) -> Result<PathBuf> {
    let home_str = home.to_string_lossy().into_owned();
    let expanded = shellexpand::full_with_context(
        raw,
        || Some(home_str.clone()),
        |var: &str| -> Result<Option<String>, std::env::VarError> {
            if var == "HOME" {
                return Ok(Some(home_str.clone()));
            }
            Ok(env.get(var).map(str::to_owned))
        },
    )
    .map_err(|e| anyhow::anyhow!("cannot expand {raw:?}: {e}"))?;
    Ok(PathBuf::from(expanded.into_owned()))
}

/// Removes `.` components, folds `..` lexically and drops a trailing slash; never touches disk.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // tests build their files by hand
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut pairs = pairs.to_vec();
        // Never this machine's /etc/modelenv.
        pairs.push((
            "MODELENV_SYSTEM_CONFIG",
            "/nonexistent/modelenv/config.toml",
        ));
        Settings::resolve(
            &Env::from_pairs(&pairs),
            Path::new("/work"),
            &Overrides::default(),
        )
        .unwrap()
    }

    #[test]
    fn defaults_follow_home_and_xdg() {
        let s = settings(&[("HOME", "/nonexistent-home")]);
        assert_eq!(s.hf_home, Path::new("/nonexistent-home/.cache/huggingface"));
        assert_eq!(
            s.hub_cache(),
            Path::new("/nonexistent-home/.cache/huggingface/hub")
        );
        assert_eq!(
            s.datasets_cache(),
            Path::new("/nonexistent-home/.cache/huggingface/datasets")
        );
        assert_eq!(s.custom_model_dir, Path::new("/nonexistent-home/models"));
        assert_eq!(
            s.ollama_models,
            Path::new("/nonexistent-home/.ollama/models")
        );
        assert_eq!(
            s.config_path,
            Path::new("/nonexistent-home/.config/modelenv/config.toml")
        );
        let s = settings(&[
            ("HOME", "/h"),
            ("XDG_CACHE_HOME", "/xc"),
            ("XDG_CONFIG_HOME", "/xcfg"),
        ]);
        assert_eq!(s.hf_home, Path::new("/xc/huggingface"));
        assert_eq!(s.config_path, Path::new("/xcfg/modelenv/config.toml"));
    }

    #[test]
    fn default_headroom_is_a_tenth_of_the_disk_capped() {
        let s = settings(&[("HOME", "/nonexistent-home")]);
        assert_eq!(s.headroom, None);
        assert_eq!(s.headroom_for(256_000_000_000), 25_600_000_000);
        assert_eq!(s.headroom_for(4_000_000_000_000), DEFAULT_HEADROOM_CAP);
        let s = Settings {
            headroom: Some(7),
            ..s
        };
        assert_eq!(s.headroom_for(4_000_000_000_000), 7);
    }

    #[test]
    fn the_system_config_sits_between_the_users_config_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let system = dir.path().join("system.toml");
        std::fs::write(
            &system,
            "hf_home = \"/srv/hf\"\nollama_models = \"/srv/ollama\"\n",
        )
        .unwrap();
        let resolve = |pairs: &[(&str, &str)]| {
            let mut all = vec![
                ("HOME", home.to_str().unwrap()),
                ("MODELENV_SYSTEM_CONFIG", system.to_str().unwrap()),
            ];
            all.extend_from_slice(pairs);
            Settings::resolve(
                &Env::from_pairs(&all),
                Path::new("/w"),
                &Overrides::default(),
            )
            .unwrap()
        };
        let s = resolve(&[("HF_HOME", "/mine/hf")]);
        assert_eq!(s.hf_home, Path::new("/srv/hf"));
        assert_eq!(s.hf_home_source, Source::System);
        std::fs::create_dir_all(home.join(".config/modelenv")).unwrap();
        std::fs::write(
            home.join(".config/modelenv/config.toml"),
            "hf_home = \"/own/hf\"\n",
        )
        .unwrap();
        let s = resolve(&[]);
        assert_eq!(s.hf_home, Path::new("/own/hf"));
        assert_eq!(s.hf_home_source, Source::Config);
        assert_eq!(s.ollama_models, Path::new("/srv/ollama"));
    }

    #[test]
    fn locations_in_the_environment_are_adopted() {
        let s = settings(&[
            ("HOME", "/h"),
            ("HF_HOME", "~/big/hf"),
            ("OLLAMA_MODELS", "/data/ollama"),
        ]);
        assert_eq!(s.hf_home, Path::new("/h/big/hf"));
        assert_eq!(s.hf_home_source, Source::Environment);
        assert_eq!(s.ollama_models, Path::new("/data/ollama"));
        assert_eq!(s.ollama_models_source, Source::Environment);
        // The default hub may still hold models from before.
        assert_eq!(
            s.other_hub_caches,
            [PathBuf::from("/h/.cache/huggingface/hub")]
        );
        // Relative values are per project, never adopted; Ollama does not expand `~`.
        let s = settings(&[
            ("HOME", "/h"),
            ("HF_HOME", "./model_cache"),
            ("OLLAMA_MODELS", "~/o"),
        ]);
        assert_eq!(s.hf_home_source, Source::Default);
        assert_eq!(s.ollama_models_source, Source::Default);
    }

    #[test]
    fn a_hub_cache_the_managed_keys_cannot_express_is_explained() {
        let s = settings(&[("HOME", "/h"), ("HF_HUB_CACHE", "/data/hf/hub")]);
        assert_eq!(s.hf_home_source, Source::Default);
        assert!(
            s.unexpressible[0].contains("modelenv install --hf-home /data/hf"),
            "{:?}",
            s.unexpressible
        );
        let s = settings(&[("HOME", "/h"), ("HUGGINGFACE_HUB_CACHE", "/data/models")]);
        assert!(
            s.unexpressible[0].contains("unset HUGGINGFACE_HUB_CACHE")
                && s.unexpressible[0].contains("migrate --store /data/models"),
            "{:?}",
            s.unexpressible
        );
        let s = settings(&[
            ("HOME", "/h"),
            ("HF_HOME", "/d"),
            ("HF_HUB_CACHE", "/d/hub"),
        ]);
        assert!(s.unexpressible.is_empty());
    }

    #[test]
    fn empty_or_relative_xdg_is_ignored() {
        let s = settings(&[
            ("HOME", "/h"),
            ("XDG_CACHE_HOME", ""),
            ("XDG_CONFIG_HOME", "rel"),
        ]);
        assert_eq!(s.hf_home, Path::new("/h/.cache/huggingface"));
        assert_eq!(s.config_home, Path::new("/h/.config"));
    }

    #[test]
    fn flags_are_made_absolute_against_cwd() {
        let ov = Overrides {
            hf_home: Some(PathBuf::from("./big/hf/")),
            ..Default::default()
        };
        let s = Settings::resolve(&Env::from_pairs(&[("HOME", "/h")]), Path::new("/work"), &ov)
            .unwrap();
        assert_eq!(s.hf_home, Path::new("/work/big/hf"));
        assert_eq!(s.hf_home_source, Source::Flag);
    }

    #[test]
    fn zdotdir_defaults_to_home() {
        assert_eq!(settings(&[("HOME", "/h")]).zdotdir, Path::new("/h"));
        assert_eq!(
            settings(&[("HOME", "/h"), ("ZDOTDIR", "/h/.config/zsh")]).zdotdir,
            Path::new("/h/.config/zsh")
        );
    }

    #[test]
    fn tilde_form_only_below_home() {
        let s = settings(&[("HOME", "/h")]);
        assert_eq!(s.tilde(Path::new("/h/models")), "~/models");
        assert_eq!(s.tilde(Path::new("/hx/models")), "/hx/models");
        assert_eq!(s.tilde(Path::new("/h")), "/h");
    }
}
