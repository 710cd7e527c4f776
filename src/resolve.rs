//! Where each library really puts its files, given an environment: the exact rules of
//! huggingface_hub, transformers 4.x/5.x, datasets, mlx-lm, llama.cpp and Ollama
//! (FACTS.md §1), so the doctor can compare them with the central locations.

use std::path::{Path, PathBuf};

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
}

/// Python's `os.path.expanduser`: a leading `~` or `~/` becomes HOME.
fn expanduser(v: &str, home: &str) -> String {
    if v == "~" {
        home.to_owned()
    } else if let Some(rest) = v.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else {
        v.to_owned()
    }
}

/// Python's `os.path.expandvars`: `$VAR` and `${VAR}` replaced when defined, else left.
fn expandvars(v: &str, vars: &dyn Vars) -> String {
    expandvars_impl(v, vars)
}

fn expandvars_impl(v: &str, vars: &dyn Vars) -> String {
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

fn defect_of(name: &str, raw: &str, expands_tilde: bool, expands_vars: bool) -> Option<String> {
    if raw.is_empty() {
        return Some(format!(
            "{name} is set but empty (Python reads that as the current folder)"
        ));
    }
    if raw.starts_with('~') && !expands_tilde {
        return Some(format!(
            "{name}={raw}: this library does not expand `~`, it creates a folder named `~`"
        ));
    }
    if raw.contains('$') && !expands_vars {
        return Some(format!(
            "{name}={raw}: this library does not expand `$` variables"
        ));
    }
    None
}

fn relative_defect(name: &str, path: &Path) -> Option<String> {
    (!path.is_absolute()).then(|| {
        format!(
            "{name}={} is a relative path: every project gets its own cache",
            path.display()
        )
    })
}

/// huggingface_hub's `HF_HOME` (`constants.py`).
pub fn hf_home(vars: &dyn Vars) -> Resolved {
    let h = home(vars);
    match vars.var("HF_HOME") {
        Some(raw) => {
            let p = PathBuf::from(expandvars(&expanduser(raw, &h), vars));
            let defect =
                defect_of("HF_HOME", raw, true, true).or_else(|| relative_defect("HF_HOME", &p));
            Resolved {
                path: p,
                from: Some("HF_HOME"),
                defect,
            }
        }
        None => {
            let base = vars
                .var("XDG_CACHE_HOME")
                .map(|x| expanduser(x, &h))
                .unwrap_or_else(|| format!("{h}/.cache"));
            Resolved {
                path: PathBuf::from(expandvars(&format!("{base}/huggingface"), vars)),
                from: None,
                defect: None,
            }
        }
    }
}

/// huggingface_hub's hub cache: `HF_HUB_CACHE` > `HUGGINGFACE_HUB_CACHE` > `HF_HOME/hub`.
/// mlx-lm and `snapshot_download` use the same.
pub fn hub_cache(vars: &dyn Vars) -> Resolved {
    let h = home(vars);
    for name in ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"] {
        if let Some(raw) = vars.var(name) {
            let p = PathBuf::from(expandvars(&expanduser(raw, &h), vars));
            let defect = defect_of(name, raw, true, true).or_else(|| relative_defect(name, &p));
            return Resolved {
                path: p,
                from: Some(name),
                defect,
            };
        }
    }
    let home_r = hf_home(vars);
    Resolved {
        path: home_r.path.join("hub"),
        from: home_r.from,
        defect: home_r.defect,
    }
}

/// transformers' cache for `from_pretrained`. 4.x: the legacy variables win (and split the
/// cache when they differ); 5.x ignores them.
pub fn transformers_cache(vars: &dyn Vars, major: u32) -> Resolved {
    if major < 5 {
        for name in [
            "TRANSFORMERS_CACHE",
            "PYTORCH_TRANSFORMERS_CACHE",
            "PYTORCH_PRETRAINED_BERT_CACHE",
        ] {
            if let Some(raw) = vars.var(name) {
                let p = PathBuf::from(expandvars(&expanduser(raw, &home(vars)), vars));
                let defect = defect_of(name, raw, true, true).or_else(|| relative_defect(name, &p));
                return Resolved {
                    path: p,
                    from: Some(name),
                    defect,
                };
            }
        }
    }
    hub_cache(vars)
}

/// datasets' Arrow cache (`config.py`): HF_HOME gets `~` expanded but no `$VAR`;
/// HF_DATASETS_CACHE is taken exactly as given.
pub fn datasets_cache(vars: &dyn Vars) -> Resolved {
    let h = home(vars);
    if let Some(raw) = vars.var("HF_DATASETS_CACHE") {
        let p = PathBuf::from(raw);
        let defect = defect_of("HF_DATASETS_CACHE", raw, false, false)
            .or_else(|| relative_defect("HF_DATASETS_CACHE", &p));
        return Resolved {
            path: p,
            from: Some("HF_DATASETS_CACHE"),
            defect,
        };
    }
    match vars.var("HF_HOME") {
        Some(raw) => {
            let p = PathBuf::from(expanduser(raw, &h)).join("datasets");
            let defect =
                defect_of("HF_HOME", raw, true, false).or_else(|| relative_defect("HF_HOME", &p));
            Resolved {
                path: p,
                from: Some("HF_HOME"),
                defect,
            }
        }
        None => {
            let base = vars.var("XDG_CACHE_HOME").unwrap_or("~/.cache");
            Resolved {
                path: PathBuf::from(expanduser(&format!("{base}/huggingface"), &h))
                    .join("datasets"),
                from: None,
                defect: None,
            }
        }
    }
}

/// llama.cpp's `-hf` downloads: LLAMA_CACHE > HF_HUB_CACHE > HUGGINGFACE_HUB_CACHE >
/// HF_HOME/hub > XDG_CACHE_HOME/huggingface/hub > ~/.cache/huggingface/hub; empty counts as
/// unset and nothing is expanded.
pub fn llama_cache(vars: &dyn Vars) -> Resolved {
    let set = |n: &str| vars.var(n).filter(|v| !v.is_empty());
    for name in ["LLAMA_CACHE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"] {
        if let Some(raw) = set(name) {
            let p = PathBuf::from(raw);
            let defect = defect_of(name, raw, false, false).or_else(|| relative_defect(name, &p));
            return Resolved {
                path: p,
                from: Some(leak(name)),
                defect,
            };
        }
    }
    if let Some(raw) = set("HF_HOME") {
        let p = PathBuf::from(raw).join("hub");
        let defect =
            defect_of("HF_HOME", raw, false, false).or_else(|| relative_defect("HF_HOME", &p));
        return Resolved {
            path: p,
            from: Some("HF_HOME"),
            defect,
        };
    }
    if let Some(x) = set("XDG_CACHE_HOME") {
        return Resolved {
            path: PathBuf::from(x).join("huggingface/hub"),
            from: Some("XDG_CACHE_HOME"),
            defect: None,
        };
    }
    Resolved {
        path: PathBuf::from(home(vars)).join(".cache/huggingface/hub"),
        from: None,
        defect: None,
    }
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
        Some(raw) if !raw.is_empty() => {
            let p = PathBuf::from(raw);
            let defect = defect_of("OLLAMA_MODELS", raw, false, false)
                .or_else(|| relative_defect("OLLAMA_MODELS", &p));
            Resolved {
                path: p,
                from: Some("OLLAMA_MODELS"),
                defect,
            }
        }
        _ => Resolved {
            path: PathBuf::from(home(vars)).join(".ollama/models"),
            from: None,
            defect: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

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
    fn datasets_expands_no_vars_and_no_tilde_in_its_own_variable() {
        assert!(
            datasets_cache(&vars(&[("HF_DATASETS_CACHE", "~/d")]))
                .defect
                .unwrap()
                .contains("does not expand `~`")
        );
        let r = datasets_cache(&vars(&[("HF_HOME", "$HOME/hf")]));
        assert_eq!(r.path, Path::new("$HOME/hf/datasets"));
        assert!(r.defect.unwrap().contains("`$` variables"));
        assert_eq!(
            datasets_cache(&vars(&[("HF_HOME", "~/hf")])).path,
            Path::new("/h/hf/datasets")
        );
    }

    #[test]
    fn transformers_legacy_variables_matter_only_before_5() {
        let v = vars(&[("TRANSFORMERS_CACHE", "/t")]);
        assert_eq!(transformers_cache(&v, 4).path, Path::new("/t"));
        assert_eq!(
            transformers_cache(&v, 5).path,
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
