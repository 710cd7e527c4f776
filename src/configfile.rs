//! Where a cache location is written in a project's config files, found through each format's
//! grammar so that an edit replaces exactly the bytes of one value and nothing else: the
//! key of `cache_dir: cache` is never taken for its value, a string in a YAML comment is not a
//! setting, and `import os` lands after the docstring and every `__future__` import.

use std::ops::Range;

/// One setting: `key` names a value whose text is `value` (unquoted), written at `span` (byte
/// range of the whole value token, quotes included) on line `line` (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: String,
    pub span: Range<usize>,
    pub line: usize,
}

/// Lines with their byte offset in `text`, without the line break (`\n`, `\r\n` or `\r`).
fn lines_at(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\n' || b[i] == b'\r' {
            out.push((start, &text[start..i]));
            if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
    if start < b.len() {
        out.push((start, &text[start..]));
    }
    out
}

/// A quoted YAML scalar starting at `s[0]`: its end (after the closing quote) and its value.
/// Escapes other than the common ones make the value unknown (`None`).
fn yaml_quoted(s: &str) -> Option<(usize, String)> {
    let q = s.chars().next()?;
    let mut out = String::new();
    let mut it = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = it.next() {
        if q == '\'' && c == '\'' {
            if it.peek().is_some_and(|(_, n)| *n == '\'') {
                it.next();
                out.push('\'');
                continue;
            }
            return Some((i + 1, out));
        }
        if q == '"' && c == '"' {
            return Some((i + 1, out));
        }
        if q == '"' && c == '\\' {
            let (_, e) = it.next()?;
            out.push(match e {
                '\\' => '\\',
                '"' => '"',
                '/' => '/',
                ' ' => ' ',
                't' => '\t',
                _ => return None,
            });
            continue;
        }
        out.push(c);
    }
    None // the scalar goes on over the next line: not a one-line value
}

/// Plain YAML scalars that resolve to something other than a string (PyYAML follows YAML 1.1).
fn yaml_plain_is_string(v: &str) -> bool {
    const NOT_STRINGS: &[&str] = &[
        "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
    ];
    !NOT_STRINGS.contains(&v) && v.parse::<f64>().is_err()
}

/// What a scalar is inside its mapping.
enum Role {
    Key,
    Value(Option<String>),
    Other,
}

enum Ctx {
    Map { want_key: bool, key: Option<String> },
    Seq,
}

/// A node starts: its role in the collection around it.
fn begin(stack: &mut [Ctx]) -> Role {
    match stack.last_mut() {
        Some(Ctx::Map { want_key, key }) if *want_key => {
            *want_key = false;
            *key = None;
            Role::Key
        }
        Some(Ctx::Map { want_key, key }) => {
            *want_key = true;
            Role::Value(key.take())
        }
        _ => Role::Other,
    }
}

/// Scalar values of YAML mappings with a scalar key, as a real YAML parser reads the file
/// (block scalars, multi-line strings and comments are never taken for settings). Only a
/// value whose token lies on one line and reads back exactly (plain without escapes, or
/// quoted) is reported, so only such a value is ever edited.
pub fn yaml(text: &str) -> Vec<Setting> {
    use yaml_rust2::parser::{Event, Parser};
    use yaml_rust2::scanner::TScalarStyle;
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Ctx> = Vec::new();
    let mut found = Vec::new();
    loop {
        let Ok((event, mark)) = parser.next_token() else {
            return Vec::new(); // not YAML: nothing in it is a setting
        };
        match event {
            Event::StreamEnd => break,
            Event::Scalar(value, style, anchor, tag) => match begin(&mut stack) {
                Role::Key => {
                    if let Some(Ctx::Map { key, .. }) = stack.last_mut() {
                        *key = Some(value);
                    }
                }
                Role::Value(Some(key))
                    if anchor == 0
                        && tag.is_none()
                        && matches!(
                            style,
                            TScalarStyle::Plain
                                | TScalarStyle::SingleQuoted
                                | TScalarStyle::DoubleQuoted
                        ) =>
                {
                    found.push((key, value, style, mark));
                }
                _ => {}
            },
            Event::MappingStart(..) => {
                begin(&mut stack);
                stack.push(Ctx::Map {
                    want_key: true,
                    key: None,
                });
            }
            Event::SequenceStart(..) => {
                begin(&mut stack);
                stack.push(Ctx::Seq);
            }
            Event::Alias(_) => {
                begin(&mut stack);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, value, style, mark) in found {
        // The parser counts characters; the edit needs bytes.
        let Some((start, _)) = text.char_indices().nth(mark.index()) else {
            continue;
        };
        let rest = &text[start..];
        let line_end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let end = match style {
            TScalarStyle::Plain => {
                // In a flow collection a plain scalar also ends at `,`, `]` or `}`.
                let flow_ends: &[&str] = if value.contains([',', ']', '}']) {
                    &[]
                } else {
                    &[",", "]", "}"]
                };
                let end = [" #", "\t#"]
                    .iter()
                    .chain(flow_ends)
                    .filter_map(|m| rest[..line_end].find(m))
                    .min()
                    .unwrap_or(line_end);
                let token = rest[..end].trim_end_matches([' ', '\t']);
                if token != value || !yaml_plain_is_string(&value) {
                    continue;
                }
                token.len()
            }
            _ => match yaml_quoted(&rest[..line_end]) {
                Some((end, v)) if v == value => end,
                _ => continue,
            },
        };
        out.push(Setting {
            key,
            value,
            span: start..start + end,
            line: text[..start].matches('\n').count() + 1,
        });
    }
    out
}

/// YAML for a string: a double-quoted scalar (JSON's string syntax is YAML's).
pub fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// String values of a TOML document, at any depth (tables, inline tables), by their last key.
pub fn toml(text: &str) -> Vec<Setting> {
    fn walk(text: &str, table: &dyn toml_edit::TableLike, out: &mut Vec<Setting>) {
        for (key, item) in table.iter() {
            match item {
                toml_edit::Item::Value(toml_edit::Value::String(s)) => {
                    if let Some(span) = s.span() {
                        let line = text[..span.start].matches('\n').count() + 1;
                        out.push(Setting {
                            key: key.to_owned(),
                            value: s.value().clone(),
                            span,
                            line,
                        });
                    }
                }
                toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => walk(text, t, out),
                toml_edit::Item::Table(t) => walk(text, t, out),
                toml_edit::Item::ArrayOfTables(a) => {
                    for t in a.iter() {
                        walk(text, t, out);
                    }
                }
                _ => {}
            }
        }
    }
    let Ok(doc) = toml_edit::Document::parse(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(t) = doc.as_item().as_table_like() {
        walk(text, t, &mut out);
    }
    out.sort_by_key(|s| s.span.start);
    out
}

/// TOML for a string: a basic string (JSON's escapes are TOML's).
pub fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// `name = "literal"` / `name: type = "literal"` / `f(x, name="literal")` on one line of
/// Python: a name, an optional annotation, `=` and a plain string literal right after it.
pub fn python(text: &str) -> Vec<Setting> {
    let mut out = Vec::new();
    for (n, (at, line)) in lines_at(text).into_iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with('#') {
            continue;
        }
        let b = line.as_bytes();
        for (i, _) in line.match_indices('=') {
            let prev = if i > 0 { b[i - 1] } else { b' ' };
            let next = b.get(i + 1).copied().unwrap_or(b' ');
            if matches!(prev, b'=' | b'!' | b'<' | b'>') || next == b'=' {
                continue;
            }
            let rest = line[i + 1..].trim_start();
            let vstart = line.len() - rest.len();
            let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            // A plain literal only: no escapes, no triple quotes, closed on this line.
            let Some(end) = rest[1..].find(quote) else {
                continue;
            };
            let value = &rest[1..1 + end];
            if value.is_empty() || value.contains('\\') {
                continue;
            }
            let before = line[..i].trim_end();
            let before = match before.rfind(':') {
                Some(c) if !before[c..].contains('(') => before[..c].trim_end(),
                _ => before,
            };
            let key: String = before
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if !key.is_empty() {
                out.push(Setting {
                    key,
                    value: value.to_owned(),
                    span: at + vstart..at + vstart + end + 2,
                    line: n + 1,
                });
                break;
            }
        }
    }
    out
}

/// Whether a top-level statement binds the name `os` (`import os`, `import sys, os.path`,
/// `import x as os`); `import os as o` does not.
fn binds_os(line: &str) -> bool {
    let Some(names) = line.strip_prefix("import ") else {
        return false;
    };
    let names = names.split('#').next().unwrap_or("");
    names.split(';').next().unwrap_or("").split(',').any(|n| {
        let parts: Vec<&str> = n.split_whitespace().collect();
        match parts.as_slice() {
            [m] => *m == "os" || m.starts_with("os."),
            [_, "as", alias] => *alias == "os",
            _ => false,
        }
    })
}

/// Where a string literal starting at `s` ends (after its closing quote), across lines for a
/// triple-quoted one; `None` when `s` does not start with a string literal.
fn python_string_end(s: &str) -> Option<usize> {
    let prefix = s
        .find(['"', '\''])
        .filter(|&p| p <= 2 && s[..p].chars().all(|c| "rRuUbBfF".contains(c)))?;
    let body = &s[prefix..];
    let q = &body[..1];
    let triple = q.repeat(3);
    let (open, close) = if body.starts_with(&triple) {
        (3, triple.as_str())
    } else {
        (1, q)
    };
    let mut i = prefix + open;
    let b = s.as_bytes();
    while i < s.len() {
        // A backslash keeps the next character in the literal, raw or not.
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if s[i..].starts_with(close) {
            return Some(i + close.len());
        }
        if open == 1 && b[i] == b'\n' {
            return None;
        }
        i += 1;
    }
    None
}

/// Adds `import os` where Python allows it when the module does not bind `os` at top level:
/// after the module docstring and every `from __future__` import (a `__future__` import must
/// come first), before everything else.
pub fn ensure_import_os(text: &str) -> String {
    if lines_at(text).iter().any(|(_, l)| binds_os(l)) {
        return text.to_owned();
    }
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    // Byte offset just after the last statement that must stay first.
    let mut insert_at = 0;
    let mut pos = 0;
    let mut seen_docstring = false;
    loop {
        // Skip blank lines and comments.
        let rest = &text[pos..];
        let skipped = rest.len()
            - rest
                .trim_start_matches([' ', '\t', '\n', '\r', '\x0c'])
                .len();
        let start = pos + skipped;
        let rest = &text[start..];
        if rest.starts_with('#') {
            pos = start + rest.find('\n').map_or(rest.len(), |e| e + 1);
            continue;
        }
        let stmt_end = if !seen_docstring {
            seen_docstring = true;
            python_string_end(rest).or_else(|| future_import_end(rest))
        } else {
            future_import_end(rest)
        };
        let Some(end) = stmt_end else {
            break;
        };
        // The statement runs to the end of its line.
        let line_end = text[start + end..]
            .find('\n')
            .map_or(text.len(), |e| start + end + e + 1);
        insert_at = line_end;
        pos = line_end;
    }
    let mut out = String::with_capacity(text.len() + 12);
    out.push_str(&text[..insert_at]);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    out.push_str("import os");
    out.push_str(eol);
    out.push_str(&text[insert_at..]);
    out
}

/// The end of a `from __future__ import …` statement at the start of `s` (through its
/// parentheses or backslash continuations).
fn future_import_end(s: &str) -> Option<usize> {
    let after = s.strip_prefix("from")?;
    let after = after.trim_start_matches([' ', '\t']);
    let after = after.strip_prefix("__future__")?;
    if !after.starts_with([' ', '\t']) {
        return None;
    }
    let mut i = 0;
    let b = s.as_bytes();
    let mut depth = 0i32;
    while i < s.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'\\' if b.get(i + 1) == Some(&b'\n') => i += 1,
            b'\\' if b.get(i + 1) == Some(&b'\r') => i += 2,
            b'#' => {
                while i < s.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\n' if depth <= 0 => return Some(i),
            _ => {}
        }
        i += 1;
    }
    Some(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(s: &[Setting]) -> Vec<(&str, &str)> {
        s.iter()
            .map(|s| (s.key.as_str(), s.value.as_str()))
            .collect()
    }

    #[test]
    fn yaml_value_token_not_key() {
        let t = "cache_dir: cache\n";
        let s = yaml(t);
        assert_eq!(values(&s), [("cache_dir", "cache")]);
        assert_eq!(&t[s[0].span.clone()], "cache");
        assert_eq!(s[0].span.start, 11);
    }

    #[test]
    fn yaml_forms() {
        let t = "a:\n  cache_dir: './x' # c\n  list:\n    - \"k\": \"./y\"\nurl: http://h:1/x\nz: null\nm: |\n  cache_dir: ./in_block\nlong: a\n  b\n\u{f1}ame: \u{fc}\r\ncache_dir2: ./after # x\n";
        let s = yaml(t);
        assert_eq!(
            values(&s),
            [
                ("cache_dir", "./x"),
                ("k", "./y"),
                ("url", "http://h:1/x"),
                ("\u{f1}ame", "\u{fc}"),
                ("cache_dir2", "./after")
            ]
        );
        assert_eq!(&t[s[0].span.clone()], "'./x'");
        assert_eq!(&t[s[4].span.clone()], "./after");
        assert_eq!(s[4].line, 12);
    }

    #[test]
    fn toml_spans() {
        let t = "[m]\ncache_dir = 'model_cache' # x\nn = { hf_cache = \"./c\" }\n";
        let s = toml(t);
        assert_eq!(
            values(&s),
            [("cache_dir", "model_cache"), ("hf_cache", "./c")]
        );
        assert_eq!(&t[s[0].span.clone()], "'model_cache'");
        assert_eq!(s[1].line, 3);
    }

    #[test]
    fn python_literals() {
        let t = "x = 1\n    hf_cache_dir: str = \"./model_cache\"\nm = load(a, cache_dir='./c')\n";
        let s = python(t);
        assert_eq!(
            values(&s),
            [("hf_cache_dir", "./model_cache"), ("cache_dir", "./c")]
        );
        assert_eq!(&t[s[1].span.clone()], "'./c'");
    }

    #[test]
    fn import_os_after_docstring_blank_lines_and_future() {
        let t = "\"\"\"Settings.\n\nMore.\n\"\"\"\n\n# c\nfrom __future__ import (\n    annotations,\n)\nfrom __future__ import division\n\nx = 1\n";
        let out = ensure_import_os(t);
        assert!(
            out.contains("from __future__ import division\nimport os\n\nx = 1\n"),
            "{out}"
        );
        assert_eq!(ensure_import_os("import sys, os\n"), "import sys, os\n");
        assert!(ensure_import_os("import os as o\n").starts_with("import os\n"));
        assert_eq!(ensure_import_os("x = 1\n"), "import os\nx = 1\n");
    }
}
