//! The supported shells: detection, quoting, the startup files each one reads, and the
//! rendering of the per-shell templates in `shells/`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Result, bail};

use crate::settings::Settings;

const POSIX_TEMPLATE: &str = include_str!("../shells/posix.sh");
const FISH_TEMPLATE: &str = include_str!("../shells/fish.fish");

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub const ALL: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

impl Shell {
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }

    /// The shells to act on: those given, else the basename of `$SHELL`.
    pub fn pick(given: &[Shell], settings: &Settings) -> Result<Vec<Shell>> {
        if !given.is_empty() {
            let mut v = given.to_vec();
            v.sort();
            v.dedup();
            return Ok(v);
        }
        match settings.login_shell.as_deref() {
            Some(name) => Ok(vec![name.parse()?]),
            None => bail!("cannot tell your shell: $SHELL is not set; pass --shell bash|zsh|fish"),
        }
    }

    /// Renders the managed block for this shell. Values are quoted so that the shell assigns
    /// them byte for byte and never executes any part of them.
    pub fn render_block(self, settings: &Settings) -> String {
        let template = match self {
            Shell::Bash | Shell::Zsh => POSIX_TEMPLATE,
            Shell::Fish => FISH_TEMPLATE,
        };
        let exports = settings.exports();
        // A variable modelenv does not export (TRANSFORMERS_CACHE when switched off) loses
        // its line; a bin_dir adds one before the end marker.
        let mut template: String = template
            .split_inclusive('\n')
            .filter(|line| {
                crate::settings::EXPORT_NAMES.iter().all(|n| {
                    !line.contains(&format!("{{{{{n}}}}}")) || exports.iter().any(|(e, _)| e == n)
                })
            })
            .collect();
        if let Some(dir) = &settings.bin_dir {
            let end = template
                .rfind(crate::block::END)
                .expect("the template has an end marker");
            template.insert_str(end, &self.path_line(dir, settings));
        }
        let text = render(&template, |name| {
            exports
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, p)| self.quote_path(p, settings))
        });
        if self == Shell::Fish {
            return text;
        }
        // A `$` or backtick kept literal inside single quotes is what we mean; say so to
        // shellcheck (SC2016) on exactly the lines that have one.
        let literal = |p: &Path| p.to_string_lossy().contains(['$', '`']);
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            if let Some((name, _)) = exports
                .iter()
                .find(|(n, p)| line.starts_with(&format!("export {n}=")) && literal(p))
            {
                out.push_str(&format!(
                    "# shellcheck disable=SC2016 # {name} holds a literal $ or `\n"
                ));
            } else if line.starts_with("case \":$PATH:\"")
                && settings.bin_dir.as_deref().is_some_and(literal)
            {
                out.push_str("# shellcheck disable=SC2016 # the folder holds a literal $ or `\n");
            }
            out.push_str(line);
        }
        out
    }

    /// The block of a user whose locations come from the system store but whose modelenv is
    /// in a folder of their own (`install --bin-dir`): only the PATH line. fish reads one
    /// `conf.d` file of a name, the user's first, so in fish it also sources the system's
    /// `modelenv.fish` (`system_file`), which the user's hides.
    pub fn render_path_block(
        self,
        dir: &Path,
        system_file: Option<&Path>,
        settings: &Settings,
    ) -> String {
        let mut out = format!(
            "{}\n# modelenv's folder on PATH (the model locations come from the system store).\n# Written by `modelenv install`; `modelenv uninstall` removes this block.\n",
            crate::block::BEGIN
        );
        if self != Shell::Fish && dir.to_string_lossy().contains(['$', '`']) {
            out.push_str("# shellcheck disable=SC2016 # the folder holds a literal $ or `\n");
        }
        out.push_str(&self.path_line(dir, settings));
        if self == Shell::Fish
            && let Some(f) = system_file
        {
            let q = self.quote(&f.to_string_lossy());
            out.push_str(&format!("test -r {q}; and source {q}\n"));
        }
        out.push_str(crate::block::END);
        out.push('\n');
        out
    }

    /// The line that puts `dir` in front of PATH when this shell's PATH lacks it (so that a
    /// shell started from another one does not add it twice).
    fn path_line(self, dir: &Path, settings: &Settings) -> String {
        let q = self.quote_path(dir, settings);
        match self {
            Shell::Fish => format!("contains -- {q} $PATH; or set -gx PATH {q} $PATH\n"),
            Shell::Bash | Shell::Zsh => {
                format!("case \":$PATH:\" in *:{q}:*) ;; *) export PATH={q}:\"$PATH\" ;; esac\n")
            }
        }
    }

    /// Quotes a path, writing the part under HOME as `"$HOME/…"` so synced dotfiles work on
    /// other machines.
    pub fn quote_path(self, p: &Path, settings: &Settings) -> String {
        let s = p.to_string_lossy();
        if let Some(rest) = settings.under_home(p) {
            let rest = format!("/{}", rest.to_string_lossy());
            if rest.bytes().all(is_plain) {
                return format!("\"$HOME{rest}\"");
            }
            return format!("\"$HOME\"{}", self.quote(&rest));
        }
        self.quote(&s)
    }

    /// Quotes an arbitrary string as one word, byte-exact in this shell.
    pub fn quote(self, s: &str) -> String {
        match self {
            Shell::Bash | Shell::Zsh => quote_posix(s),
            Shell::Fish => quote_fish(s),
        }
    }

    /// The startup files that must carry the block for this shell to see the variables in
    /// login, interactive and (zsh, fish) non-interactive shells.
    pub fn targets(self, settings: &Settings) -> Vec<Target> {
        match self {
            Shell::Bash => {
                let home = &settings.home;
                // A login bash reads only the first of these that exists.
                let login = [".bash_profile", ".bash_login", ".profile"]
                    .iter()
                    .map(|n| home.join(n))
                    .find(|p| p.symlink_metadata().is_ok())
                    .unwrap_or_else(|| home.join(".profile"));
                vec![
                    Target {
                        path: home.join(".bashrc"),
                        placement: Placement::BeforeGuard,
                        whole_file: false,
                    },
                    Target {
                        path: login,
                        placement: Placement::Append,
                        whole_file: false,
                    },
                ]
            }
            Shell::Zsh => zsh_files(settings)
                .all()
                .into_iter()
                .map(|path| Target {
                    path,
                    placement: Placement::Append,
                    whole_file: false,
                })
                .collect(),
            Shell::Fish => vec![Target {
                path: fish_conf_d(settings).join("modelenv.fish"),
                placement: Placement::Append,
                whole_file: true,
            }],
        }
    }

    /// Every file any shell's install may have written, for uninstall.
    pub fn all_candidate_files(self, settings: &Settings) -> Vec<PathBuf> {
        match self {
            Shell::Bash => [".bashrc", ".bash_profile", ".bash_login", ".profile"]
                .iter()
                .map(|n| settings.home.join(n))
                .collect(),
            Shell::Zsh => {
                // Where this install writes, and where earlier ones may have written.
                let mut v = zsh_files(settings).all();
                for p in [
                    settings.home.join(".zshenv"),
                    settings.zdotdir.join(".zshenv"),
                ] {
                    if !v.contains(&p) {
                        v.push(p);
                    }
                }
                v
            }
            _ => self.targets(settings).into_iter().map(|t| t.path).collect(),
        }
    }
}

impl Shell {
    /// The managed block `install --system` writes: absolute paths (no `$HOME`, which differs
    /// for every user) and comments that name the system commands.
    pub fn render_system_block(self, settings: &Settings) -> String {
        self.render_block(&settings.for_system())
            .replace("`modelenv install`", "`modelenv install --system`")
            .replace("`modelenv uninstall`", "`modelenv uninstall --system`")
    }

    /// The system-wide startup files that give every user's fresh shells the exports, as
    /// this machine's shells read them: bash's `/etc/profile.d/modelenv.sh` (login shells,
    /// through `/etc/profile`) and the system bashrc bash was built with, when it has one and
    /// it exists (interactive shells); zsh's system `zshenv` (every zsh); fish's
    /// `conf.d/modelenv.fish` in its sysconf folder. Errors when the shell is not installed.
    pub fn system_targets(self) -> Result<Vec<Target>> {
        let bin = which::which(self.name())
            .map_err(|_| anyhow::anyhow!("{self} is not installed (not found in PATH)"))?;
        Ok(match self {
            Shell::Bash => {
                let mut v = vec![Target {
                    path: PathBuf::from(PROFILE_D).join("modelenv.sh"),
                    placement: Placement::Append,
                    whole_file: true,
                }];
                if let Some(rc) = compiled_in(&bin, "bashrc").filter(|p| p.is_file()) {
                    v.push(Target {
                        path: rc,
                        placement: Placement::BeforeGuard,
                        whole_file: false,
                    });
                }
                v
            }
            Shell::Zsh => vec![Target {
                path: system_zshenv(&bin)?,
                placement: Placement::Append,
                whole_file: false,
            }],
            Shell::Fish => vec![Target {
                path: fish_sysconf_dir(&bin)?.join("conf.d").join("modelenv.fish"),
                placement: Placement::Append,
                whole_file: true,
            }],
        })
    }
}

/// The folder `/etc/profile` sources for login shells (Debian, Ubuntu, Fedora, Arch…).
pub const PROFILE_D: &str = "/etc/profile.d";

/// Whether `/etc/profile` sources `/etc/profile.d/*.sh` (read only; `None`: no /etc/profile).
pub fn profile_reads_profile_d() -> Option<bool> {
    let text = std::fs::read_to_string("/etc/profile").ok()?;
    Some(text.lines().any(|l| {
        let l = l.trim_start();
        !l.starts_with('#') && l.contains(PROFILE_D)
    }))
}

/// The system zshenv this zsh reads: the one it sources at startup (`-o sourcetrace` names
/// it; `-f` keeps the user's files out), else, when there is none yet, the path compiled into
/// the binary (`/etc/zsh/zshenv` on Debian, `/etc/zshenv` elsewhere).
fn system_zshenv(bin: &Path) -> Result<PathBuf> {
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["-f", "-o", "sourcetrace", "-c", ":"])
        .env_clear()
        .env("PS4", "+%N:%i> ")
        .env("HOME", "/nonexistent")
        .current_dir("/");
    if let Some(p) = std::env::var_os("PATH") {
        cmd.env("PATH", p);
    }
    let traced = stderr_within(cmd, std::time::Duration::from_secs(10)).and_then(|err| {
        let text = String::from_utf8_lossy(&err).into_owned();
        text.lines().find_map(|l| {
            let rest = l.strip_prefix('+')?;
            let (file, _) = rest.split_once("> <sourcetrace>")?;
            let (file, line) = file.rsplit_once(':')?;
            (line.bytes().all(|b| b.is_ascii_digit()) && file.starts_with('/'))
                .then(|| PathBuf::from(file))
        })
    });
    traced
        .or_else(|| compiled_in(bin, "zshenv"))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot tell where {} reads its system zshenv (it sources none and names none)",
                bin.display()
            )
        })
}

/// fish's sysconf folder (`$__fish_sysconf_dir`: `/etc/fish` for a packaged fish).
fn fish_sysconf_dir(bin: &Path) -> Result<PathBuf> {
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["--no-config", "-c", "printf %s $__fish_sysconf_dir"])
        .env_clear()
        .env("HOME", "/nonexistent")
        .current_dir("/");
    if let Some(p) = std::env::var_os("PATH") {
        cmd.env("PATH", p);
    }
    output_within(cmd, std::time::Duration::from_secs(10))
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o).into_owned()))
        .filter(|p| p.is_absolute())
        .ok_or_else(|| anyhow::anyhow!("{} does not name its sysconf folder", bin.display()))
}

/// An absolute path under `/etc` ending in `suffix` among the strings compiled into the
/// binary `bin` (links followed): where the shell was built to read a system file.
fn compiled_in(bin: &Path, suffix: &str) -> Option<PathBuf> {
    let bytes = std::fs::read(bin).ok()?;
    bytes
        .split(|&b| b == 0)
        .filter(|s| s.starts_with(b"/etc/") && s.ends_with(suffix.as_bytes()))
        .filter_map(|s| std::str::from_utf8(s).ok())
        .find(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
                && !s.rsplit('/').next().unwrap_or("").starts_with('.')
        })
        .map(PathBuf::from)
}

/// A command's stderr, or `None` when it cannot start or outlives `timeout`.
fn stderr_within(cmd: std::process::Command, timeout: std::time::Duration) -> Option<Vec<u8>> {
    crate::probe::run(cmd, timeout, crate::probe::Answer::Stderr).ok()
}

/// The `.zshenv` files zsh reads (FACTS.md §3). A zsh started by a login or a terminal has
/// no ZDOTDIR unless the system's `zshenv` sets one, so it reads `~/.zshenv` (the `fresh`
/// file); when the user's files then export a ZDOTDIR, every zsh started from that one reads
/// `$ZDOTDIR/.zshenv` instead (`nested`). A ZDOTDIR in modelenv's own environment only says
/// where the zsh that started modelenv looks (`inherited`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZshFiles {
    pub fresh: PathBuf,
    pub nested: Option<PathBuf>,
    pub inherited: Option<PathBuf>,
}

impl ZshFiles {
    /// Each distinct file, the fresh one first: the block goes into all of them.
    pub fn all(&self) -> Vec<PathBuf> {
        let mut v = vec![self.fresh.clone()];
        for p in [&self.nested, &self.inherited].into_iter().flatten() {
            if !v.contains(p) {
                v.push(p.clone());
            }
        }
        v
    }
}

/// Asks zsh itself (started as a terminal would start it: only HOME, USER, LOGNAME, PATH and
/// TERM) where it reads `.zshenv`. Without zsh: `~/.zshenv`, and the inherited ZDOTDIR's.
pub fn zsh_files(settings: &Settings) -> ZshFiles {
    // Asked once per process: the doctor needs it for several checks.
    static SEEN: std::sync::Mutex<Vec<(PathBuf, ZshFiles)>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, z)) = seen.iter().find(|(h, _)| *h == settings.home) {
        return z.clone();
    }
    let z = ask_zsh(settings);
    seen.push((settings.home.clone(), z.clone()));
    z
}

fn ask_zsh(settings: &Settings) -> ZshFiles {
    let inherited = (settings.zdotdir != settings.home).then(|| settings.zdotdir.join(".zshenv"));
    let ask = |flags: &[&str]| -> Option<String> {
        let bin = which::which("zsh").ok()?;
        let mut cmd = std::process::Command::new(bin);
        cmd.args(flags)
            .arg("print -rn -- $'\\x01'\"${ZDOTDIR-}|${(t)ZDOTDIR-}\"$'\\x01'")
            .env_clear()
            .env("HOME", &settings.home)
            .current_dir(&settings.home);
        for key in ["USER", "LOGNAME", "PATH", "TERM"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        let out = output_within(cmd, std::time::Duration::from_secs(10))?;
        let text = String::from_utf8_lossy(&out).into_owned();
        text.split('\u{1}').nth(1).map(str::to_owned)
    };
    let dir = |answer: &str, need_export: bool| -> Option<PathBuf> {
        let (value, kind) = answer.split_once('|')?;
        let p = Path::new(value);
        (p.is_absolute() && (!need_export || kind.contains("export"))).then(|| p.to_path_buf())
    };
    // `-f`: only the system's zshenv, which decides where the user's .zshenv is read.
    let fresh_dir = ask(&["-f", "-c"])
        .and_then(|a| dir(&a, false))
        .unwrap_or_else(|| settings.home.clone());
    let fresh = fresh_dir.join(".zshenv");
    let nested = ask(&["-c"])
        .and_then(|a| dir(&a, true))
        .map(|d| d.join(".zshenv"))
        .filter(|p| *p != fresh);
    ZshFiles {
        fresh,
        nested,
        inherited,
    }
}

/// A command's stdout, or `None` when it cannot start or outlives `timeout` (then killed,
/// with whatever it started).
fn output_within(cmd: std::process::Command, timeout: std::time::Duration) -> Option<Vec<u8>> {
    crate::probe::run(cmd, timeout, crate::probe::Answer::Stdout).ok()
}

pub fn fish_conf_d(settings: &Settings) -> PathBuf {
    settings.config_home.join("fish").join("conf.d")
}

impl fmt::Display for Shell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Shell {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Shell> {
        match s {
            "bash" => Ok(Shell::Bash),
            "zsh" => Ok(Shell::Zsh),
            "fish" => Ok(Shell::Fish),
            other => bail!(
                "unsupported shell `{other}`; modelenv supports bash, zsh and fish (pass --shell)"
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// At the end of the file.
    Append,
    /// Before a "return if not interactive" guard if the file has one, else at the end.
    BeforeGuard,
}

#[derive(Clone, Debug)]
pub struct Target {
    pub path: PathBuf,
    pub placement: Placement,
    /// The file is modelenv's own: uninstall deletes it.
    pub whole_file: bool,
}

/// Characters that need no quoting inside `"$HOME…"` in any supported shell.
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(&b)
}

/// POSIX sh, bash and zsh: single quotes, each `'` written `'\''`.
pub fn quote_posix(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// fish: single quotes, where `\` and `'` are the only escapes.
pub fn quote_fish(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

/// Substitutes `{{NAME}}` placeholders in one pass; substituted text is never rescanned.
pub fn render(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                match lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => panic!("template placeholder {{{{{name}}}}} has no value"),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Env, Overrides};

    #[test]
    fn posix_quote_escapes_single_quotes_only() {
        assert_eq!(quote_posix("it's $x"), r"'it'\''s $x'");
    }

    #[test]
    fn fish_quote_escapes_backslash_and_quote() {
        assert_eq!(quote_fish(r"a\b'c"), r"'a\\b\'c'");
    }

    #[test]
    fn unknown_shell_names_the_supported_ones() {
        let err = "tcsh".parse::<Shell>().unwrap_err().to_string();
        assert!(
            err.contains("tcsh") && err.contains("bash, zsh and fish"),
            "{err}"
        );
    }

    #[test]
    fn paths_under_home_use_dollar_home() {
        let s = Settings::resolve(
            &Env::from_pairs(&[("HOME", "/h")]),
            Path::new("/"),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            Shell::Zsh.quote_path(Path::new("/h/.cache/huggingface"), &s),
            "\"$HOME/.cache/huggingface\""
        );
        assert_eq!(
            Shell::Zsh.quote_path(Path::new("/h/my models"), &s),
            "\"$HOME\"'/my models'"
        );
        assert_eq!(
            Shell::Fish.quote_path(Path::new("/data/a'b"), &s),
            r"'/data/a\'b'"
        );
    }

    #[test]
    fn every_placeholder_in_templates_is_filled() {
        let s = Settings::resolve(
            &Env::from_pairs(&[("HOME", "/h")]),
            Path::new("/"),
            &Overrides::default(),
        )
        .unwrap();
        for sh in ALL {
            let block = sh.render_block(&s);
            assert!(!block.contains("{{"), "{block}");
            for name in crate::settings::EXPORT_NAMES {
                assert!(block.contains(name), "{sh}: {name} missing");
            }
        }
    }
}
