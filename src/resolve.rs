//! Where each library really puts its files, given an environment: the exact rules of
//! huggingface_hub, transformers 4.x/5.x, datasets, mlx-lm, llama.cpp and Ollama
//! (FACTS.md §1), so the doctor can compare them with the central locations.

use std::path::PathBuf;

/// A variable lookup (a process environment, a fresh shell's, a server's).
pub trait Vars {
    fn var(&self, name: &str) -> Option<&str>;
}

impl Vars for crate::settings::Env {
    fn var(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}

impl Vars for std::collections::BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// One consumer's answer: the folder it will use, and the variable that decided it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Resolved {
    pub path: PathBuf,
    /// The variable whose value gave the path (`None`: the built-in default).
    pub from: Option<&'static str>,
    /// Why this value is wrong whatever it points to (a literal `~`, an unexpanded `$VAR`…).
    pub defect: Option<String>,
    /// The library itself gets there, but code that reads its constant does not (datasets'
    /// `HF_DATASETS_CACHE` with a `~`).
    pub warning: Option<String>,
}

impl Resolved {
    fn new(path: String, from: Option<&'static str>) -> Resolved {
        Resolved {
            path: PathBuf::from(path),
            from,
            defect: None,
            warning: None,
        }
    }
}

/// Python's `os.path.expanduser` for `~` and `~/…` (HOME, trailing `/` dropped); `~user` is
/// left alone.
fn expanduser(v: &str, home: &str) -> String {
    let rest = if v == "~" {
        ""
    } else if let Some(r) = v.strip_prefix('~').filter(|r| r.starts_with('/')) {
        r
    } else {
        return v.to_owned();
    };
    let out = format!("{}{rest}", home.trim_end_matches('/'));
    if out.is_empty() { "/".to_owned() } else { out }
}

/// Python's `os.path.join(a, b)`: an absolute `b` wins, an empty `a` adds nothing.
fn pjoin(a: &str, b: &str) -> String {
    if b.starts_with('/') || a.is_empty() {
        b.to_owned()
    } else if a.ends_with('/') {
        format!("{a}{b}")
    } else {
        format!("{a}/{b}")
    }
}

/// `str(pathlib.Path(v))`: `""` is `.`, repeated and trailing `/` and `.` parts dropped.
fn pathlib_str(v: &str) -> String {
    let abs = v.starts_with('/');
    let parts: Vec<&str> = v
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    match (abs, parts.is_empty()) {
        (true, _) => format!("/{}", parts.join("/")),
        (false, true) => ".".to_owned(),
        (false, false) => parts.join("/"),
    }
}

/// Python's `os.path.expandvars`: `$VAR` and `${VAR}` replaced when defined, else left.
fn expandvars(v: &str, vars: &dyn Vars) -> String {
    let mut out = String::new();
    let mut rest = v;
    while let Some(p) = rest.find('$') {
        out.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(e) => (&inner[..e], e + 2),
                None => ("", 0),
            }
        } else {
            let n = after
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                .count();
            (&after[..n], n)
        };
        match (!name.is_empty()).then(|| vars.var(name)).flatten() {
            Some(val) => {
                out.push_str(val);
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn home(vars: &dyn Vars) -> String {
    vars.var("HOME").unwrap_or("").to_owned()
}

/// What a library makes of `raw` (the value of `name`) when the result is not an absolute
/// path: the reason, in the user's terms.
fn relative_defect(name: &str, raw: &str, path: &str, tilde: bool, vars: bool) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    Some(if raw.is_empty() {
        format!("{name} is set but empty (Python reads that as the current folder)")
    } else if raw.starts_with('~') && !tilde {
        format!("{name}={raw}: this library does not expand `~`, it creates a folder named `~`")
    } else if raw.contains('$') && !vars {
        format!("{name}={raw}: this library does not expand `$` variables")
    } else {
        format!("{name}={raw} gives the relative path {path}: every project gets its own cache")
    })
}

/// The variable an `os.getenv(name, default)` chain stops at, and its value.
fn first_set<'a>(vars: &'a dyn Vars, names: &[&'static str]) -> Option<(&'static str, &'a str)> {
    names.iter().find_map(|n| vars.var(n).map(|v| (*n, v)))
}

/// huggingface_hub's `HF_HOME` (`constants.py`, 0.x to 2.x):
/// `expandvars(expanduser(HF_HOME ?? join(XDG_CACHE_HOME ?? ~/.cache, "huggingface")))`.
pub fn hf_home(vars: &dyn Vars) -> Resolved {
    let h = home(vars);
    let (raw, from) = match vars.var("HF_HOME") {
        Some(raw) => (raw.to_owned(), Some("HF_HOME")),
        None => match vars.var("XDG_CACHE_HOME") {
            Some(x) => (pjoin(x, "huggingface"), Some("XDG_CACHE_HOME")),
            None => (pjoin(&pjoin(&h, ".cache"), "huggingface"), None),
        },
    };
    let path = expandvars(&expanduser(&raw, &h), vars);
    let mut r = Resolved::new(path.clone(), from);
    r.defect = relative_defect(from.unwrap_or("HF_HOME"), &raw, &path, true, true);
    r
}

/// huggingface_hub's hub cache: `HF_HUB_CACHE` > `HUGGINGFACE_HUB_CACHE` > `HF_HOME/hub`,
/// `~` and `$VAR` expanded. mlx-lm (`snapshot_download`) uses the same.
pub fn hub_cache(vars: &dyn Vars) -> Resolved {
    let h = home(vars);
    let Some((name, raw)) = first_set(vars, &["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"]) else {
        let home_r = hf_home(vars);
        let path = pjoin(&home_r.path.to_string_lossy(), "hub");
        return Resolved {
            path: PathBuf::from(path),
            ..home_r
        };
    };
    let path = expandvars(&expanduser(raw, &h), vars);
    let mut r = Resolved::new(path.clone(), Some(name));
    r.defect = relative_defect(name, raw, &path, true, true);
    r
}

/// The transformers releases a verdict is for: its major version and that of the
/// huggingface_hub it runs with (0.x takes a `cache_dir` as given; 1.x and later expand `~`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transformers {
    pub major: u32,
    pub hub_major: u32,
}

/// The legacy variables transformers 4.x reads, in its order.
pub const TRANSFORMERS_LEGACY: [&str; 3] = [
    "TRANSFORMERS_CACHE",
    "PYTORCH_TRANSFORMERS_CACHE",
    "PYTORCH_PRETRAINED_BERT_CACHE",
];

/// transformers' cache for `from_pretrained` (`utils/hub.py`). 4.x: the first legacy variable
/// set wins, passed to `hf_hub_download` as given (no `$VAR` expansion; `~` only by
/// huggingface_hub 1.x and later); 5.x ignores them.
pub fn transformers_cache(vars: &dyn Vars, t: Transformers) -> Resolved {
    if t.major < 5
        && let Some((name, raw)) = first_set(vars, &TRANSFORMERS_LEGACY)
    {
        let tilde = t.hub_major >= 1;
        let path = if tilde {
            expanduser(raw, &home(vars))
        } else {
            raw.to_owned()
        };
        let mut r = Resolved::new(path.clone(), Some(name));
        r.defect = relative_defect(name, raw, &path, tilde, false);
        return r;
    }
    hub_cache(vars)
}

/// datasets' Arrow cache as `load_dataset` uses it (`config.py`, then `builder.py` and
/// `load.py`): `HF_HOME` and `XDG_CACHE_HOME` get `~` expanded but no `$VAR`;
/// `HF_DATASETS_CACHE` is kept literal in `datasets.config` and `~`-expanded where it is used.
pub fn datasets_cache(vars: &dyn Vars) -> Resolved {
    let h = home(vars);
    let xdg = vars.var("XDG_CACHE_HOME").unwrap_or("~/.cache");
    let (base_raw, base_from) = match vars.var("HF_HOME") {
        Some(raw) => (raw.to_owned(), Some("HF_HOME")),
        None => (
            pjoin(xdg, "huggingface"),
            vars.var("XDG_CACHE_HOME").map(|_| "XDG_CACHE_HOME"),
        ),
    };
    let cache_home = expanduser(&base_raw, &h);
    let (raw, from, constant) = match vars.var("HF_DATASETS_CACHE") {
        Some(raw) => (raw.to_owned(), Some("HF_DATASETS_CACHE"), pathlib_str(raw)),
        None => (
            base_raw.clone(),
            base_from,
            pathlib_str(&pjoin(&cache_home, "datasets")),
        ),
    };
    let path = expanduser(&constant, &h);
    let mut r = Resolved::new(path.clone(), from);
    r.defect = relative_defect(from.unwrap_or("HF_HOME"), &raw, &path, true, false);
    if r.defect.is_none() && from == Some("HF_DATASETS_CACHE") && constant.starts_with('~') {
        r.warning = Some(format!(
            "HF_DATASETS_CACHE={raw}: load_dataset expands the `~`, but datasets.config.HF_DATASETS_CACHE keeps it literal, so code that reads the constant gets a folder named `~`"
        ));
    }
    r
}

/// A value some non-Python tool takes as given (no `~`, no `$VAR`): its path and defect.
fn literal(name: &'static str, raw: &str, path: String) -> Resolved {
    let mut r = Resolved::new(path.clone(), Some(name));
    r.defect = relative_defect(name, raw, &path, false, false).or_else(|| {
        raw.contains('$')
            .then(|| format!("{name}={raw}: this tool does not expand `$` variables"))
    });
    r
}

/// llama.cpp's `-hf` downloads: LLAMA_CACHE > HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE >
/// HF_HOME/hub > XDG_CACHE_HOME/huggingface/hub > ~/.cache/huggingface/hub; empty counts as
/// unset and nothing is expanded.
pub fn llama_cache(vars: &dyn Vars) -> Resolved {
    let set = |n: &str| vars.var(n).filter(|v| !v.is_empty());
    for name in ["LLAMA_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"] {
        if let Some(raw) = set(name) {
            return literal(leak(name), raw, raw.to_owned());
        }
    }
    if let Some(raw) = set("HF_HOME") {
        return literal("HF_HOME", raw, pjoin(raw, "hub"));
    }
    if let Some(x) = set("XDG_CACHE_HOME") {
        return literal("XDG_CACHE_HOME", x, pjoin(x, "huggingface/hub"));
    }
    Resolved::new(pjoin(&home(vars), ".cache/huggingface/hub"), None)
}

fn leak(name: &str) -> &'static str {
    match name {
        "LLAMA_CACHE" => "LLAMA_CACHE",
        "HF_HUB_CACHE" => "HF_HUB_CACHE",
        _ => "HUGGINGFACE_HUB_CACHE",
    }
}

/// Ollama's models folder (`envconfig/config.go`): OLLAMA_MODELS with spaces and quotes
/// trimmed, no `~` expansion; else `$HOME/.ollama/models`.
pub fn ollama_models(vars: &dyn Vars) -> Resolved {
    match vars
        .var("OLLAMA_MODELS")
        .map(|v| v.trim_matches(|c: char| c == ' ' || c == '"' || c == '\''))
    {
        Some(raw) if !raw.is_empty() => literal("OLLAMA_MODELS", raw, raw.to_owned()),
        _ => Resolved::new(pjoin(&home(vars), ".ollama/models"), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::Path;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        m.entry("HOME".into()).or_insert("/h".into());
        m
    }

    #[test]
    fn hub_cache_precedence() {
        assert_eq!(
            hub_cache(&vars(&[])).path,
            Path::new("/h/.cache/huggingface/hub")
        );
        assert_eq!(
            hub_cache(&vars(&[("HF_HOME", "~/hf")])).path,
            Path::new("/h/hf/hub")
        );
        assert_eq!(
            hub_cache(&vars(&[("HF_HOME", "$HOME/x")])).path,
            Path::new("/h/x/hub")
        );
        let r = hub_cache(&vars(&[
            ("HF_HOME", "/a"),
            ("HUGGINGFACE_HUB_CACHE", "/b"),
            ("HF_HUB_CACHE", "/c"),
        ]));
        assert_eq!(
            (r.path.as_path(), r.from),
            (Path::new("/c"), Some("HF_HUB_CACHE"))
        );
        assert_eq!(
            hub_cache(&vars(&[("XDG_CACHE_HOME", "/x")])).path,
            Path::new("/x/huggingface/hub")
        );
    }

    #[test]
    fn datasets_expands_tilde_where_it_downloads_but_never_vars() {
        let r = datasets_cache(&vars(&[("HF_DATASETS_CACHE", "~/d")]));
        assert_eq!((r.path.as_path(), r.defect), (Path::new("/h/d"), None));
        assert!(r.warning.unwrap().contains("keeps it literal"));
        let r = datasets_cache(&vars(&[("HF_HOME", "$HOME/hf")]));
        assert_eq!(r.path, Path::new("$HOME/hf/datasets"));
        assert!(r.defect.unwrap().contains("`$` variables"));
        assert_eq!(
            datasets_cache(&vars(&[("HF_HOME", "~/hf")])).path,
            Path::new("/h/hf/datasets")
        );
        // Path("") is "."; an empty XDG_CACHE_HOME gives a relative `huggingface`.
        assert_eq!(
            datasets_cache(&vars(&[("HF_DATASETS_CACHE", "")])).path,
            Path::new(".")
        );
        assert_eq!(
            datasets_cache(&vars(&[("XDG_CACHE_HOME", "")])).path,
            Path::new("huggingface/datasets")
        );
    }

    #[test]
    fn empty_xdg_cache_home_is_the_current_folder_not_the_root() {
        let r = hub_cache(&vars(&[("XDG_CACHE_HOME", "")]));
        assert_eq!(r.path, Path::new("huggingface/hub"));
        assert!(r.defect.unwrap().contains("relative"));
    }

    #[test]
    fn transformers_4_takes_its_variable_as_given_with_hub_0x() {
        let v = vars(&[("TRANSFORMERS_CACHE", "~/t")]);
        let old = Transformers {
            major: 4,
            hub_major: 0,
        };
        assert!(transformers_cache(&v, old).defect.unwrap().contains("`~`"));
        let newer = Transformers {
            major: 4,
            hub_major: 1,
        };
        assert_eq!(transformers_cache(&v, newer).path, Path::new("/h/t"));
        let v = vars(&[("TRANSFORMERS_CACHE", "$HOME/t")]);
        assert!(
            transformers_cache(&v, newer)
                .defect
                .unwrap()
                .contains("`$`")
        );
    }

    #[test]
    fn transformers_legacy_variables_matter_only_before_5() {
        let v = vars(&[("TRANSFORMERS_CACHE", "/t")]);
        let t4 = Transformers {
            major: 4,
            hub_major: 0,
        };
        let t5 = Transformers {
            major: 5,
            hub_major: 2,
        };
        assert_eq!(transformers_cache(&v, t4).path, Path::new("/t"));
        assert_eq!(
            transformers_cache(&v, t5).path,
            Path::new("/h/.cache/huggingface/hub")
        );
    }

    #[test]
    fn ollama_trims_and_never_expands() {
        assert_eq!(
            ollama_models(&vars(&[("OLLAMA_MODELS", " \"/m\" ")])).path,
            Path::new("/m")
        );
        assert!(
            ollama_models(&vars(&[("OLLAMA_MODELS", "~/m")]))
                .defect
                .is_some()
        );
        assert_eq!(
            ollama_models(&vars(&[])).path,
            Path::new("/h/.ollama/models")
        );
    }

    #[test]
    fn llama_treats_empty_as_unset() {
        assert_eq!(
            llama_cache(&vars(&[("LLAMA_CACHE", ""), ("HF_HOME", "/hf")])).path,
            Path::new("/hf/hub")
        );
    }

    #[test]
    fn empty_values_are_defects() {
        assert!(
            hf_home(&vars(&[("HF_HOME", "")]))
                .defect
                .unwrap()
                .contains("empty")
        );
    }
}
