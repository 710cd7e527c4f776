//! `.env` files read the way python-dotenv reads them, and edited one value at a time.
//!
//! [`parse`] follows python-dotenv's grammar (`dotenv/parser.py`, the version pinned in
//! `scripts/test-requirements.txt`): a file read with universal newlines (`\r\n` and `\r` are
//! line ends) and a leading BOM dropped; `export` prefixes, `'quoted'` keys, single- and
//! double-quoted values with their escapes and over several lines, `# comments`, and lines it
//! cannot parse (which it skips). Each binding keeps the byte spans of its key and value in
//! the original text, so an edit replaces exactly one value and every other byte stays.
//!
//! install edits the managed keys of a repo's root `.env.example` in place and appends the
//! missing ones in a marked block; migrate points project-local cache keys at the central
//! store; uninstall puts back the exact text each value had. Every edit is parsed again before
//! it is accepted: unmanaged keys must keep their values and managed keys get exactly the new
//! one, otherwise the file is refused with the reason.
//!
//! Values are written as `${HOME}/…`: python-dotenv (and so pydantic-settings) and docker
//! compose both expand `${VAR}`, while none of the common loaders expands `~`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::block;
use crate::settings::Settings;

/// A file name dotenv loaders read: `.env`, `.env.*`, `*.env`.
pub fn is_dotenv_name(name: &str) -> bool {
    name == ".env" || name.starts_with(".env.") || name.ends_with(".env")
}

/// Python's `str.isspace` (and so `\s` in its regular expressions).
pub fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `[^\S\r\n]`: a blank that does not end a line.
fn inline_space(c: char) -> bool {
    py_space(c) && c != '\r' && c != '\n'
}

/// One statement of a `.env` file, with spans into the original text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// The whole statement, blanks and blank lines before it included.
    pub span: Range<usize>,
    /// The key (quotes removed); `None` for a comment, blank space or an unparsable line.
    pub key: Option<String>,
    /// The key as written (quotes included).
    pub key_span: Option<Range<usize>>,
    /// The value before interpolation; `None` for a key without `=`.
    pub value: Option<String>,
    /// The text a new value replaces: quotes included, the blanks and comment after an
    /// unquoted value excluded; empty where a value is missing.
    pub value_span: Option<Range<usize>>,
    /// python-dotenv could not parse this statement (it warns and skips it).
    pub error: bool,
    /// The line (from 1) the key is on.
    pub line: usize,
}

/// The text python-dotenv sees (universal newlines, no BOM) and, for each of its byte
/// offsets, the offset in the original.
struct Normalized {
    text: String,
    map: Vec<usize>,
}

fn normalize(orig: &str) -> Normalized {
    let mut text = String::with_capacity(orig.len());
    let mut map = Vec::with_capacity(orig.len() + 1);
    let start = if orig.starts_with('\u{feff}') { 3 } else { 0 };
    let b = orig.as_bytes();
    let mut i = start;
    while i < b.len() {
        if b[i] == b'\r' {
            text.push('\n');
            map.push(i);
            i += if b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            continue;
        }
        let c = orig[i..].chars().next().unwrap_or('\0');
        text.push(c);
        for k in 0..c.len_utf8() {
            map.push(i + k);
        }
        i += c.len_utf8();
    }
    map.push(b.len());
    Normalized { text, map }
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn skip(&mut self, f: impl Fn(char) -> bool) {
        while let Some(c) = self.peek().filter(|c| f(*c)) {
            self.pos += c.len_utf8();
        }
    }

    fn skipped(&self, f: impl Fn(char) -> bool) -> usize {
        let mut p = self.pos;
        while let Some(c) = self.s[p..].chars().next().filter(|c| f(*c)) {
            p += c.len_utf8();
        }
        p
    }
}

/// `'…'` or `"…"` at `pos`: a backslash escapes any character (newlines included). Returns the
/// raw content and the offset after the closing quote, or `None` when it is not closed.
fn quoted(s: &str, pos: usize, q: char) -> Option<(&str, usize)> {
    let mut it = s[pos + 1..].char_indices();
    while let Some((i, c)) = it.next() {
        if c == '\\' {
            it.next()?;
        } else if c == q {
            return Some((&s[pos + 1..pos + 1 + i], pos + 1 + i + 1));
        }
    }
    None
}

/// python-dotenv's escape decoding: `\\` and `\'` in single quotes; `\\ \' \" \a \b \f \n \r
/// \t \v` in double quotes; any other backslash stays.
fn unescape(raw: &str, double: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut it = raw.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let decoded = match it.peek() {
            Some('\\') => Some('\\'),
            Some('\'') => Some('\''),
            Some('"') if double => Some('"'),
            Some('a') if double => Some('\u{7}'),
            Some('b') if double => Some('\u{8}'),
            Some('f') if double => Some('\u{c}'),
            Some('n') if double => Some('\n'),
            Some('r') if double => Some('\r'),
            Some('t') if double => Some('\t'),
            Some('v') if double => Some('\u{b}'),
            _ => None,
        };
        match decoded {
            Some(d) => {
                out.push(d);
                it.next();
            }
            None => out.push('\\'),
        }
    }
    out
}

/// An unquoted value: the line up to the first blanks followed by `#`, trailing blanks removed.
fn unquoted_len(part: &str) -> usize {
    let mut cut = part.len();
    let mut run_start: Option<usize> = None;
    for (i, c) in part.char_indices() {
        if py_space(c) {
            run_start.get_or_insert(i);
        } else {
            if c == '#'
                && let Some(r) = run_start
            {
                cut = r;
                break;
            }
            run_start = None;
        }
    }
    part[..cut].trim_end_matches(py_space).len()
}

/// One statement in the normalized text, spans in normalized offsets.
fn binding(r: &mut Reader) -> Binding {
    let mark = r.pos;
    let mut b = Binding {
        span: mark..mark,
        key: None,
        key_span: None,
        value: None,
        value_span: None,
        error: false,
        line: 0,
    };
    r.skip(py_space);
    if r.pos == r.s.len() {
        b.span = mark..r.pos;
        return b;
    }
    if r.s[r.pos..].starts_with("export") {
        let p = r.pos;
        r.pos += "export".len();
        let after = r.skipped(inline_space);
        if after == r.pos {
            r.pos = p;
        } else {
            r.pos = after;
        }
    }
    let ok = (|| -> Option<()> {
        let key_start = r.pos;
        match r.peek() {
            Some('#') => {}
            Some('\'') => {
                let end = r.s[r.pos + 1..].find('\'')?;
                if end == 0 {
                    return None;
                }
                b.key = Some(r.s[r.pos + 1..r.pos + 1 + end].to_owned());
                r.pos += end + 2;
            }
            _ => {
                r.skip(|c| c != '=' && c != '#' && !py_space(c));
                if r.pos == key_start {
                    return None;
                }
                b.key = Some(r.s[key_start..r.pos].to_owned());
            }
        }
        if b.key.is_some() {
            b.key_span = Some(key_start..r.pos);
        }
        r.skip(inline_space);
        if r.peek() == Some('=') {
            let eq = r.pos;
            r.pos += 1;
            r.skip(inline_space);
            let blank_after_eq = r.pos > eq + 1;
            let v = r.pos;
            match r.peek() {
                Some('#') if blank_after_eq => {
                    // `KEY= # note`: an empty value and a comment. A value goes right after `=`.
                    b.value = Some(String::new());
                    b.value_span = Some(eq + 1..eq + 1);
                }
                Some(q @ ('\'' | '"')) => {
                    let (raw, end) = quoted(r.s, v, q)?;
                    b.value = Some(unescape(raw, q == '"'));
                    b.value_span = Some(v..end);
                    r.pos = end;
                }
                None | Some('\n' | '\r') => {
                    b.value = Some(String::new());
                    b.value_span = Some(v..v);
                }
                Some(_) => {
                    let line_end = r.s[v..].find(['\r', '\n']).map_or(r.s.len(), |i| v + i);
                    let len = unquoted_len(&r.s[v..line_end]);
                    b.value = Some(r.s[v..v + len].to_owned());
                    b.value_span = Some(v..v + len);
                    r.pos = line_end;
                }
            }
        }
        // An optional comment, then the end of the line.
        let p = r.skipped(inline_space);
        if r.s[p..].starts_with('#') {
            r.pos = r.s[p..].find(['\r', '\n']).map_or(r.s.len(), |i| p + i);
        }
        r.skip(inline_space);
        if r.s[r.pos..].starts_with("\r\n") {
            r.pos += 2;
        } else if r.s[r.pos..].starts_with(['\r', '\n']) {
            r.pos += 1;
        } else if r.pos != r.s.len() {
            return None;
        }
        Some(())
    })();
    if ok.is_none() {
        // python-dotenv skips to the end of the line where it stopped.
        let rest = &r.s[r.pos..];
        let n = rest.find(['\r', '\n']).unwrap_or(rest.len());
        r.pos += n;
        if r.s[r.pos..].starts_with('\r') || r.s[r.pos..].starts_with('\n') {
            r.pos += 1;
        }
        b.key = None;
        b.key_span = None;
        b.value = None;
        b.value_span = None;
        b.error = true;
    }
    b.span = mark..r.pos;
    b
}

/// Every statement of a `.env` file, as python-dotenv reads it.
pub fn parse(text: &str) -> Vec<Binding> {
    let n = normalize(text);
    let mut r = Reader { s: &n.text, pos: 0 };
    let mut out = Vec::new();
    let (mut counted, mut line) = (0, 1);
    let map = |x: Range<usize>| n.map[x.start]..n.map[x.end];
    while r.pos < r.s.len() {
        let mut b = binding(&mut r);
        let at = b.key_span.as_ref().map_or(b.span.start, |k| k.start);
        line += n.text[counted..at].matches('\n').count();
        counted = at;
        b.line = line;
        b.span = map(b.span);
        b.key_span = b.key_span.map(map);
        b.value_span = b.value_span.map(map);
        out.push(b);
    }
    out
}

/// The keys and values python-dotenv loads (the last of a repeated key wins), before
/// interpolation.
pub fn values(text: &str) -> BTreeMap<String, Option<String>> {
    parse(text)
        .into_iter()
        .filter_map(|b| Some((b.key?, b.value)))
        .collect()
}

/// python-dotenv's `${NAME}` / `${NAME:-default}` expansion of one value.
pub fn interpolate(value: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        let body = &rest[at + 2..];
        let Some(close) = body.find('}') else { break };
        let inner = &body[..close];
        let (name, default) = match inner.find(":-") {
            Some(i) if !inner[..i].contains(':') => (&inner[..i], Some(&inner[i + 2..])),
            _ if inner.contains(':') => {
                // Not a variable in python-dotenv's grammar: kept as text.
                out.push_str(&rest[..at + 2]);
                rest = &rest[at + 2..];
                continue;
            }
            _ => (inner, None),
        };
        out.push_str(&rest[..at]);
        out.push_str(&lookup(name).unwrap_or_else(|| default.unwrap_or("").to_owned()));
        rest = &body[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The keys modelenv manages and their values.
/// Every key modelenv keeps pointed at the central store where a file sets it.
fn managed_all(settings: &Settings) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("HF_HOME", settings.hf_home.clone()),
        ("TRANSFORMERS_CACHE", settings.hub_cache()),
        ("HF_DATASETS_CACHE", settings.datasets_cache()),
        ("HF_CACHE_DIR", settings.hub_cache()),
        ("CUSTOM_MODEL_DIR", settings.custom_model_dir.clone()),
    ]
}

/// The keys install adds when a file lacks them: TRANSFORMERS_CACHE is left out when
/// `transformers_cache = false` (a file's own TRANSFORMERS_CACHE line is still kept pointed at
/// the hub cache, so it never splits it).
pub fn managed(settings: &Settings) -> Vec<(&'static str, PathBuf)> {
    let mut v = managed_all(settings);
    if !settings.transformers_cache {
        v.remove(1);
    }
    v
}

/// A value in the form every common `.env` loader reads the same way: `${HOME}/…` below HOME,
/// double-quoted when it holds blanks. Characters loaders read differently are refused.
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
    if v.chars().any(py_space) || v.is_empty() {
        Ok(format!("\"{v}\""))
    } else {
        Ok(v)
    }
}

/// The raw value (before interpolation) python-dotenv reads from a rendered value.
fn raw_of(rendered: &str) -> &str {
    rendered
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(rendered)
}

/// A value's original text, so uninstall can put it back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueEdit {
    pub key: String,
    /// Which occurrence of the key (from 0, in file order).
    pub nth: usize,
    /// The text before install (at the value's place; empty where a value was missing).
    pub before: String,
    /// The text install wrote there.
    pub after: String,
}

fn yes() -> bool {
    true
}

/// What install changed in one file, so uninstall can put it back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Originals {
    /// Records of older versions: for each key updated in place, its original lines.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lines: BTreeMap<String, Vec<String>>,
    /// `.env` values replaced in place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValueEdit>,
    pub added_eol: bool,
    pub created: bool,
    /// The block in the file is modelenv's own (older records: always).
    #[serde(default = "yes")]
    pub own_block: bool,
    /// A block that was in the file before install (a teammate's, synced dotfiles), put back
    /// exactly on uninstall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_block: Option<String>,
}

/// The file's line end (the first one in it), `\n` when it has none.
fn eol_of(text: &str) -> &'static str {
    match text.find(['\r', '\n']) {
        Some(i) if text[i..].starts_with("\r\n") => "\r\n",
        Some(i) if text[i..].starts_with('\r') => "\r",
        _ => "\n",
    }
}

/// The marked block: from the start of its first line to the end of its last. Only a
/// comment statement counts as a marker (a marker inside a multi-line value is text).
fn find_block(text: &str, bs: &[Binding], what: &str) -> Result<Option<Range<usize>>> {
    let marker = |b: &Binding, m: &str| {
        b.key.is_none() && !b.error && text[b.span.clone()].trim_matches(py_space) == m
    };
    let line_start = |b: &Binding| {
        let hash = b.span.start + text[b.span.clone()].find('#').unwrap_or(0);
        text[..hash].rfind(['\n', '\r']).map_or(0, |i| i + 1)
    };
    let begins: Vec<&Binding> = bs.iter().filter(|b| marker(b, block::BEGIN)).collect();
    let ends: Vec<&Binding> = bs.iter().filter(|b| marker(b, block::END)).collect();
    match (begins.as_slice(), ends.as_slice()) {
        ([], []) => Ok(None),
        ([b], [e]) if b.span.start < e.span.start => Ok(Some(line_start(b)..e.span.end)),
        _ => bail!(
            "{what}: the modelenv markers (`{}` … `{}`) are unpaired, repeated or out of order; fix the file by hand, nothing was changed",
            block::BEGIN,
            block::END
        ),
    }
}

/// Where a new value goes in a binding: its value, or right after a key without `=`.
fn value_place(text: &str, b: &Binding) -> Option<(Range<usize>, bool)> {
    match (&b.value_span, &b.key_span) {
        (Some(v), _) => Some((v.clone(), needs_quotes(text, v))),
        (None, Some(k)) => Some((k.end..k.end, needs_quotes(text, &(k.end..k.end)))),
        _ => None,
    }
}

/// A value written at `r` must be quoted when it replaces a quoted one or when something
/// other than a blank or a line end follows it (a `#` right after would join the value).
fn needs_quotes(text: &str, r: &Range<usize>) -> bool {
    text[r.clone()]
        .trim_start_matches('=')
        .starts_with(['"', '\''])
        || text[r.end..].chars().next().is_some_and(|c| !py_space(c))
}

/// Where modelenv's text `e.after` still stands in binding `b`: the value's place, or
/// `=value` after a key that had no `=` before install. `None`: the user changed it since.
fn written_at(text: &str, b: &Binding, e: &ValueEdit) -> Option<Range<usize>> {
    let candidates = [
        b.value_span.clone(),
        b.key_span
            .as_ref()
            .zip(b.value_span.as_ref())
            .map(|(k, v)| k.end..v.end),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|r| text[r.clone()] == e.after)
}

/// The text to write at a value's place.
fn spelled(rendered: &str, quote: bool, had_equals: bool) -> String {
    let v = if quote && !rendered.starts_with('"') {
        format!("\"{rendered}\"")
    } else {
        rendered.to_owned()
    };
    if had_equals { v } else { format!("={v}") }
}

/// Replaces `edits` (non-overlapping spans) in `text`.
fn splice(text: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(text.len() + 256);
    let mut at = 0;
    for (r, s) in edits {
        out.push_str(&text[at..r.start]);
        out.push_str(&s);
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Refuses an edit whose result python-dotenv would read differently than intended: every
/// key keeps its value except those in `want`, which get exactly that value.
fn verify(
    old: &str,
    new: &str,
    want: &BTreeMap<&str, String>,
    gone: &BTreeMap<String, Option<Option<String>>>,
    what: &str,
) -> Result<()> {
    let errors = |t: &str| parse(t).iter().filter(|b| b.error).count();
    let (before, after) = (values(old), values(new));
    let mut expected = before.clone();
    for (k, v) in want {
        expected.insert((*k).to_owned(), Some(v.clone()));
    }
    // A key modelenv no longer writes leaves its block: what is left is the user's own.
    for (k, v) in gone {
        match v {
            Some(v) => expected.insert(k.clone(), v.clone()),
            None => expected.remove(k),
        };
    }
    if after != expected || errors(new) != errors(old) {
        let key = expected
            .keys()
            .chain(after.keys())
            .find(|k| expected.get(*k) != after.get(*k))
            .cloned()
            .unwrap_or_default();
        bail!(
            "{what}: modelenv cannot change this file without changing how python-dotenv reads it (key {key:?}); nothing was changed. Set the values by hand (`modelenv init` shows them)"
        );
    }
    Ok(())
}

/// Refuses a file python-dotenv cannot parse: editing it could change what the broken
/// statement swallows.
fn check_parses(bs: &[Binding], what: &str) -> Result<()> {
    if let Some(b) = bs.iter().find(|b| b.error) {
        bail!(
            "{what}: python-dotenv cannot parse the statement on line {} (an unclosed quote or text after a closing quote?); fix it first, nothing was changed",
            b.line
        );
    }
    Ok(())
}

/// The new text: each managed key outside the block changed in place, the missing ones in
/// the block; records the first original text of every value replaced and a block found that
/// was not modelenv's.
pub fn apply(
    text: &str,
    settings: &Settings,
    originals: &mut Originals,
    what: &str,
) -> Result<String> {
    let mut values = Vec::new();
    for (k, p) in managed_all(settings) {
        values.push((k, render_value(&p, settings)?));
    }
    let addable: Vec<&str> = managed(settings).into_iter().map(|(k, _)| k).collect();
    let bs = parse(text);
    check_parses(&bs, what)?;
    let blk = find_block(text, &bs, what)?;
    let outside = |b: &Binding| blk.as_ref().is_none_or(|r| !r.contains(&b.span.start));
    let mut edits = Vec::new();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    let mut present = std::collections::BTreeSet::new();
    let mut records = Vec::new();
    for b in bs.iter().filter(|b| outside(b)) {
        let Some((k, v)) = b
            .key
            .as_deref()
            .and_then(|k| values.iter().find(|(m, _)| *m == k))
        else {
            continue;
        };
        present.insert(*k);
        let nth = count.entry(k).or_default();
        let here = *nth;
        *nth += 1;
        let prior = originals
            .values
            .iter()
            .find(|e| e.key == *k && e.nth == here)
            .and_then(|e| Some((written_at(text, b, e)?, e)));
        let (region, before, had_equals) = match prior {
            Some((r, e)) => (r, e.before.clone(), !e.after.starts_with('=')),
            None => {
                if b.value.as_deref() == Some(raw_of(v)) {
                    // Already right, and the user's own text: left alone.
                    continue;
                }
                let (place, _) = value_place(text, b).expect("a keyed binding has a value place");
                (place.clone(), text[place].to_owned(), b.value.is_some())
            }
        };
        let quote = needs_quotes(text, &region);
        let new = spelled(v, quote, had_equals);
        records.push(ValueEdit {
            key: (*k).to_owned(),
            nth: here,
            before,
            after: new.clone(),
        });
        if text[region.clone()] != new {
            edits.push((region, new));
        }
    }
    let missing: Vec<&(&str, String)> = values
        .iter()
        .filter(|(k, _)| !present.contains(k) && addable.contains(k))
        .collect();
    let eol = eol_of(text);
    if let Some(r) = &blk {
        if !originals.own_block && originals.foreign_block.is_none() {
            originals.foreign_block = Some(text[r.clone()].to_owned());
        }
        let keep_empty_block = originals.foreign_block.is_some();
        if missing.is_empty() && !keep_empty_block {
            // Every key lives outside a block now: modelenv's block goes, with the line end
            // install added for it.
            edits.push((block_removal(text, r, originals.added_eol), String::new()));
            originals.added_eol = false;
        } else {
            let mut b = render_block(&missing, eol);
            // A block at the very end of a file without a final line end keeps that shape.
            if !text[r.clone()].ends_with(['\n', '\r']) {
                b.truncate(b.len() - eol.len());
            }
            edits.push((r.clone(), b));
        }
    } else if !missing.is_empty() {
        let mut add = String::new();
        if !text.is_empty() && !text.ends_with(['\n', '\r']) {
            add.push_str(eol);
            originals.added_eol = true;
        }
        add.push_str(&render_block(&missing, eol));
        edits.push((text.len()..text.len(), add));
    }
    // Keys of modelenv's own block that it no longer writes (TRANSFORMERS_CACHE switched
    // off) go with the block's new text; each then has the value the user's lines give it.
    let wanted = |k: &str| present.contains(k) || addable.contains(&k);
    let mut gone: BTreeMap<String, Option<Option<String>>> = BTreeMap::new();
    if let Some(r) = blk.as_ref().filter(|_| originals.foreign_block.is_none()) {
        for b in bs.iter().filter(|b| r.contains(&b.span.start)) {
            if let Some(k) = b.key.as_deref()
                && !wanted(k)
            {
                let outside_value = bs
                    .iter()
                    .rfind(|o| outside(o) && o.key.as_deref() == Some(k))
                    .map(|o| o.value.clone());
                gone.insert(k.to_owned(), outside_value);
            }
        }
    }
    // Another value that interpolates a key leaving the block would change with it.
    for k in gone.keys() {
        if let Some(b) = bs.iter().find(|b| {
            b.value.as_deref().is_some_and(|v| {
                v.contains(&format!("${{{k}}}")) || v.contains(&format!("${{{k}:-"))
            })
        }) {
            bail!(
                "{what}: line {} uses ${{{k}}}, which modelenv would stop writing; nothing was changed. Give that line its own value (or keep `transformers_cache = true`)",
                b.line
            );
        }
    }
    let new = splice(text, edits);
    let want: BTreeMap<&str, String> = values
        .iter()
        .filter(|(k, _)| wanted(k))
        .map(|(k, v)| (*k, raw_of(v).to_owned()))
        .collect();
    verify(text, &new, &want, &gone, what)?;
    originals.own_block = find_block(&new, &parse(&new), what)?.is_some();
    // The first original of every value is kept (a value the user changed since starts over).
    for r in records {
        match originals
            .values
            .iter_mut()
            .find(|e| e.key == r.key && e.nth == r.nth)
        {
            Some(e) => *e = r,
            None => originals.values.push(r),
        }
    }
    Ok(new)
}

/// What goes with modelenv's block `r`: the block, and the line end install added before it
/// when it is last in the file.
fn block_removal(text: &str, r: &Range<usize>, added_eol: bool) -> Range<usize> {
    let mut start = r.start;
    if added_eol && r.end == text.len() {
        let before = &text[..start];
        start -= if before.ends_with("\r\n") {
            2
        } else if before.ends_with(['\n', '\r']) {
            1
        } else {
            0
        };
    }
    start..r.end
}

fn render_block(missing: &[&(&str, String)], eol: &str) -> String {
    let mut lines = vec![
        block::BEGIN.to_owned(),
        "# Model storage shared by every project, so each model is downloaded once.".to_owned(),
        "# Written by `modelenv install`; `modelenv uninstall` removes it.".to_owned(),
    ];
    for (k, v) in missing {
        lines.push(format!("{k}={v}"));
    }
    lines.push(block::END.to_owned());
    let mut out = lines.join(eol);
    out.push_str(eol);
    out
}

/// The text with the block removed (or the block that was there before install put back)
/// and every value install replaced given its original text. A value changed since install
/// is the user's and stays.
pub fn revert(text: &str, originals: &Originals, what: &str) -> Result<String> {
    if !originals.lines.is_empty() {
        return legacy::revert(text, originals, what);
    }
    let bs = parse(text);
    let blk = find_block(text, &bs, what)?;
    let outside = |b: &Binding| blk.as_ref().is_none_or(|r| !r.contains(&b.span.start));
    let mut edits = Vec::new();
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for b in bs.iter().filter(|b| outside(b)) {
        let Some(k) = b.key.as_deref() else { continue };
        let nth = count.entry(k).or_default();
        let here = *nth;
        *nth += 1;
        if let Some(e) = originals
            .values
            .iter()
            .find(|e| e.key == k && e.nth == here)
            && let Some(r) = written_at(text, b, e)
        {
            edits.push((r, e.before.clone()));
        }
    }
    if let Some(r) = &blk {
        match &originals.foreign_block {
            Some(f) => edits.push((r.clone(), f.clone())),
            None if originals.own_block => {
                edits.push((block_removal(text, r, originals.added_eol), String::new()));
            }
            None => {}
        }
    }
    Ok(splice(text, edits))
}

/// Points each `(key, path)` at its path wherever the key is set (outside modelenv's block),
/// every other byte kept. For migrate: keys whose statement starts on one of `lines` only.
pub fn set_values(
    text: &str,
    keys: &[(String, PathBuf, usize)],
    settings: &Settings,
    what: &str,
) -> Result<String> {
    let bs = parse(text);
    check_parses(&bs, what)?;
    let mut edits = Vec::new();
    let mut want = BTreeMap::new();
    for b in &bs {
        let Some(k) = b.key.as_deref() else { continue };
        let Some((_, p, _)) = keys.iter().find(|(key, _, l)| key == k && *l == b.line) else {
            continue;
        };
        let v = render_value(p, settings)?;
        let (place, quote) = value_place(text, b).expect("a keyed binding has a value place");
        edits.push((place, spelled(&v, quote, b.value.is_some())));
        want.insert(k, raw_of(&v).to_owned());
    }
    let new = splice(text, edits);
    // Only the last statement of a key counts: an earlier one changed is fine, a later one
    // that kept another value is not what was asked.
    verify(text, &new, &want, &BTreeMap::new(), what)?;
    Ok(new)
}

/// The line-based records of older versions, still undone the way they were written.
mod legacy {
    use super::*;
    use crate::block::{Lines, bare};

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

    fn kv(text: &str) -> Vec<(Option<String>, Option<String>, bool)> {
        parse(text)
            .into_iter()
            .filter(|b| b.key.is_some() || b.error)
            .map(|b| (b.key, b.value, b.error))
            .collect()
    }

    fn one(k: &str, v: &str) -> (Option<String>, Option<String>, bool) {
        (Some(k.into()), Some(v.into()), false)
    }

    #[test]
    fn grammar_follows_python_dotenv() {
        assert_eq!(kv("a=b"), vec![one("a", "b")]);
        assert_eq!(kv("'a'=b"), vec![one("a", "b")]);
        assert_eq!(kv(" export\ta = b # c"), vec![one("a", "b")]);
        assert_eq!(
            kv("a=\"x\\\"y\" # c\rb=2"),
            vec![one("a", "x\"y"), one("b", "2")]
        );
        assert_eq!(kv("a='x\\'y\\\\'"), vec![one("a", "x'y\\")]);
        assert_eq!(kv("a=\"1\\n2\\$\""), vec![one("a", "1\n2\\$")]);
        assert_eq!(
            kv("a=\"l1\r\nl2\"\r\nb=3"),
            vec![one("a", "l1\nl2"), one("b", "3")]
        );
        assert_eq!(kv("a=x#y"), vec![one("a", "x#y")]);
        assert_eq!(kv("a= #y"), vec![one("a", "")]);
        assert_eq!(kv("a=#y"), vec![one("a", "#y")]);
        assert_eq!(kv("a"), vec![(Some("a".into()), None, false)]);
        assert_eq!(kv("\u{feff}a=1"), vec![one("a", "1")]);
        assert_eq!(kv("a=\"open\nb=2"), vec![(None, None, true), one("b", "2")]);
        assert_eq!(
            kv("a=\"x\" y\nb=2"),
            vec![(None, None, true), one("b", "2")]
        );
    }

    #[test]
    fn a_value_in_a_crlf_file_reads_with_lf() {
        let text = "A=\"one\r\ntwo\"\r\n";
        let b = &parse(text)[0];
        assert_eq!(b.value.as_deref(), Some("one\ntwo"));
        assert_eq!(&text[b.value_span.clone().unwrap()], "\"one\r\ntwo\"");
    }

    #[test]
    fn interpolation() {
        let look = |n: &str| (n == "HOME").then(|| "/h".to_owned());
        assert_eq!(interpolate("${HOME}/x", look), "/h/x");
        assert_eq!(interpolate("${NOPE:-d}/x", look), "d/x");
        assert_eq!(interpolate("$HOME/x", look), "$HOME/x");
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
        let mut o2 = o.clone();
        assert_eq!(apply(&new, &s(), &mut o2, "f").unwrap(), new, "idempotent");
        assert_eq!(o2, o, "originals recorded once");
        assert_eq!(revert(&new, &o, "f").unwrap(), text);
    }

    #[test]
    fn a_block_dropped_by_a_later_install_takes_its_line_end_along() {
        let text = "A=1";
        let mut o = Originals::default();
        let once = apply(text, &s(), &mut o, "f").unwrap();
        assert!(o.added_eol && o.own_block);
        // The user sets every key outside the block since: the next install drops the block.
        let keys: String = managed(&s())
            .iter()
            .map(|(k, _)| format!("{k}=x\n"))
            .collect();
        let edited = once.replacen("A=1\n", &format!("A=1\n{keys}"), 1);
        let twice = apply(&edited, &s(), &mut o, "f").unwrap();
        assert!(!twice.contains("modelenv") && !o.own_block, "{twice}");
        let back = revert(&twice, &o, "f").unwrap();
        assert_eq!(back, format!("A=1\n{keys}").trim_end_matches('\n'));
    }

    #[test]
    fn a_marker_inside_a_value_is_text() {
        let text = "CERT=\"-----BEGIN\nHF_HOME=./x\n# >>> modelenv >>>\n\"\nHF_HOME=./y\n";
        let mut o = Originals::default();
        let new = apply(text, &s(), &mut o, "f").unwrap();
        assert!(new.starts_with("CERT=\"-----BEGIN\nHF_HOME=./x\n# >>> modelenv >>>\n\"\nHF_HOME=${HOME}/.cache/huggingface\n"), "{new}");
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
