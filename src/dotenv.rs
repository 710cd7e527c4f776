//! The managed keys of a repo's root `.env.example`: updated in place where they exist,
//! appended in a marked block where they do not, every other line byte-identical.
//!
//! Values are written as `${HOME}/…`: python-dotenv (and so pydantic-settings) and docker
//! compose both expand `${VAR}`, while none of the common loaders expands `~`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, bail};

use crate::block::{self, At, Lines, bare};
use crate::settings::Settings;

/// The keys modelenv manages and their values.
pub fn managed(settings: &Settings) -> Vec<(&'static str, std::path::PathBuf)> {
    vec![
        ("HF_HOME", settings.hf_home.clone()),
        ("TRANSFORMERS_CACHE", settings.hub_cache()),
        ("HF_DATASETS_CACHE", settings.datasets_cache()),
        ("HF_CACHE_DIR", settings.hub_cache()),
        ("CUSTOM_MODEL_DIR", settings.custom_model_dir.clone()),
    ]
}

/// A value in the form every common `.env` loader reads the same way.
pub fn render_value(p: &Path, settings: &Settings) -> Result<String> {
    let (prefix, rest) = match settings.under_home(p) {
        Some(r) => ("${HOME}/", r.to_string_lossy().into_owned()),
        None => ("", p.to_string_lossy().into_owned()),
    };
    if let Some(c) = rest
        .chars()
        .find(|c| matches!(c, '"' | '\'' | '\\' | '$' | '`' | '#') || c.is_control())
    {
        bail!(
            "{} contains {c:?}, which .env loaders read differently; choose a location without it",
            p.display()
        );
    }
    let v = format!("{prefix}{rest}");
    if v.contains(' ') {
        Ok(format!("\"{v}\""))
    } else {
        Ok(v)
    }
}

/// Parses `  export KEY = value # note`: returns where the value starts (after `=` and any
/// blanks) and the key.
fn parse_assignment(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start();
    let after_export = trimmed
        .strip_prefix("export ")
        .map(str::trim_start)
        .unwrap_or(trimmed);
    let key_len = after_export
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.' || *b == b'-')
        .count();
    if key_len == 0 || after_export.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let key = &after_export[..key_len];
    let rest = after_export[key_len..].trim_start().strip_prefix('=')?;
    let value = rest.trim_start_matches([' ', '\t']);
    Some((line.len() - value.len(), key))
}

/// A trailing comment after a value (with the blanks before it), kept when the value is replaced.
fn trailing_comment(value: &str) -> &str {
    if let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'') {
        // Quoted: keep whatever follows the closing quote.
        return match value[1..].find(q) {
            Some(end) => &value[end + 2..],
            None => "",
        };
    }
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if bytes[i] == b'#' && (bytes[i - 1] == b' ' || bytes[i - 1] == b'\t') {
            let start = value[..i].trim_end_matches([' ', '\t']).len();
            return &value[start..];
        }
    }
    ""
}

/// What install changed, so uninstall can put it back.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Originals {
    /// For each key updated in place, its original lines (terminator excluded) in file order.
    pub lines: BTreeMap<String, Vec<String>>,
    pub added_eol: bool,
    pub created: bool,
}

/// The new text, recording originals of lines replaced for the first time.
pub fn apply(
    text: &str,
    settings: &Settings,
    originals: &mut Originals,
    what: &str,
) -> Result<String> {
    let keys = managed(settings);
    let mut values = Vec::new();
    for (k, p) in &keys {
        values.push((*k, render_value(p, settings)?));
    }
    let l = Lines::new(text);
    let span = block::find(&l.lines, what)?;
    let in_block = |i: usize| span.is_some_and(|(b, e)| i >= b && i <= e);
    let mut out_lines: Vec<String> = Vec::with_capacity(l.lines.len());
    let mut present = std::collections::BTreeSet::new();
    let mut seen_now: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, line) in l.lines.iter().enumerate() {
        if !in_block(i)
            && let Some((value_at, key)) = parse_assignment(bare(line))
            && let Some((_, v)) = values.iter().find(|(k, _)| *k == key)
        {
            present.insert(key.to_owned());
            let content = bare(line);
            seen_now
                .entry(key.to_owned())
                .or_default()
                .push(content.to_owned());
            let comment = trailing_comment(&content[value_at..]);
            let eol = &line[content.len()..];
            out_lines.push(format!("{}{}{}{}", &content[..value_at], v, comment, eol));
            continue;
        }
        out_lines.push((*line).to_owned());
    }
    for (k, v) in seen_now {
        originals.lines.entry(k).or_insert(v);
    }
    let body: String = out_lines.concat();
    let missing: Vec<&(&str, String)> = values
        .iter()
        .filter(|(k, _)| !present.contains(*k))
        .collect();
    if missing.is_empty() {
        // Every key lives outside a block now; a leftover block is dropped.
        return Ok(block::remove(&body, false, what)?.unwrap_or(body));
    }
    let mut blk = format!(
        "{}\n# Model storage shared by every project, so each model is downloaded once.\n# Written by `modelenv install`; `modelenv uninstall` removes it.\n",
        block::BEGIN
    );
    for (k, v) in missing {
        blk.push_str(&format!("{k}={v}\n"));
    }
    blk.push_str(block::END);
    blk.push('\n');
    let (new, added) = block::upsert(&body, &blk, At::End, what)?;
    if added {
        originals.added_eol = true;
    }
    Ok(new)
}

/// The text with the block removed and replaced lines restored.
pub fn revert(text: &str, originals: &Originals, what: &str) -> Result<String> {
    let l = Lines::new(text);
    let span = block::find(&l.lines, what)?;
    let in_block = |i: usize| span.is_some_and(|(b, e)| i >= b && i <= e);
    let mut counters: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out = String::with_capacity(text.len());
    for (i, line) in l.lines.iter().enumerate() {
        if !in_block(i)
            && let Some((_, key)) = parse_assignment(bare(line))
            && let Some(orig) = originals.lines.get(key)
        {
            let n = counters.entry(key).or_default();
            if let Some(o) = orig.get(*n) {
                *n += 1;
                out.push_str(o);
                out.push_str(&line[bare(line).len()..]);
                continue;
            }
        }
        out.push_str(line);
    }
    Ok(block::remove(&out, originals.added_eol, what)?.unwrap_or(out))
}

/// The line with its value replaced by `value`, keeping `export`, spacing, a trailing comment
/// and the line ending. `None` when the line is not an assignment.
pub fn replace_value(line: &str, value: &str) -> Option<String> {
    let content = bare(line);
    let (value_at, _) = parse_assignment(content)?;
    let comment = trailing_comment(&content[value_at..]);
    Some(format!(
        "{}{value}{comment}{}",
        &content[..value_at],
        &line[content.len()..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Env, Overrides};

    fn s() -> Settings {
        Settings::resolve(
            &Env::from_pairs(&[("HOME", "/h")]),
            Path::new("/"),
            &Overrides::default(),
        )
        .unwrap()
    }

    #[test]
    fn existing_keys_change_in_place_and_others_stay() {
        let text = "# API\nOPENAI_KEY=x\nHF_CACHE_DIR=./model_cache  # local\nexport HF_HOME = ~/hf\nPORT=8000";
        let mut o = Originals::default();
        let new = apply(text, &s(), &mut o, "f").unwrap();
        assert!(new.starts_with(
            "# API\nOPENAI_KEY=x\nHF_CACHE_DIR=${HOME}/.cache/huggingface/hub  # local\nexport HF_HOME = ${HOME}/.cache/huggingface\nPORT=8000\n# >>> modelenv >>>\n"
        ), "{new}");
        assert!(new.contains("TRANSFORMERS_CACHE=${HOME}/.cache/huggingface/hub\n"));
        assert!(new.contains("CUSTOM_MODEL_DIR=${HOME}/models\n"));
        assert!(
            !new.contains("\nHF_HOME=${HOME}"),
            "HF_HOME is not appended again"
        );
        let mut o2 = o.clone();
        assert_eq!(apply(&new, &s(), &mut o2, "f").unwrap(), new, "idempotent");
        assert_eq!(o2, o, "originals recorded once");
        assert_eq!(revert(&new, &o, "f").unwrap(), text);
    }

    #[test]
    fn values_dotenv_cannot_read_are_refused() {
        let st = s();
        assert!(render_value(Path::new("/data/a$b"), &st).is_err());
        assert_eq!(
            render_value(Path::new("/h/my models"), &st).unwrap(),
            "\"${HOME}/my models\""
        );
        assert_eq!(
            render_value(Path::new("/data/hf"), &st).unwrap(),
            "/data/hf"
        );
    }
}
