//! Managed blocks between `# >>> modelenv >>>` and `# <<< modelenv <<<` in text files:
//! found, inserted, replaced in place and removed without touching any other byte.

use anyhow::{Result, bail};

pub const BEGIN: &str = "# >>> modelenv >>>";
pub const END: &str = "# <<< modelenv <<<";

/// A file's text split into lines that keep their own terminators.
pub struct Lines<'a> {
    pub lines: Vec<&'a str>,
    pub crlf: bool,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        // The line end the file has once a line end is added: a text without any `\n` that
        // ends in `\r` becomes CRLF then (so a second run sees what the first wrote).
        let crlf = match lines.iter().find(|l| l.ends_with('\n')) {
            Some(l) => l.ends_with("\r\n"),
            None => text.ends_with('\r'),
        };
        Lines { lines, crlf }
    }

    pub fn eol(&self) -> &'static str {
        if self.crlf { "\r\n" } else { "\n" }
    }
}

/// The content of a line without its terminator.
pub fn bare(line: &str) -> &str {
    line.trim_end_matches('\n').trim_end_matches('\r')
}

/// The block's first and last line indexes, or `None`. Duplicate or unpaired markers are an
/// error: editing such a file could delete the user's own lines.
pub fn find(lines: &[&str], what: &str) -> Result<Option<(usize, usize)>> {
    let begins: Vec<usize> = (0..lines.len())
        .filter(|&i| bare(lines[i]).trim() == BEGIN)
        .collect();
    let ends: Vec<usize> = (0..lines.len())
        .filter(|&i| bare(lines[i]).trim() == END)
        .collect();
    match (begins.as_slice(), ends.as_slice()) {
        ([], []) => Ok(None),
        ([b], [e]) if b < e => Ok(Some((*b, *e))),
        ([_], [_]) => bail!(
            "{what}: the `{END}` marker comes before `{BEGIN}`; fix the file by hand, nothing was changed"
        ),
        (b, e) if b.len() > 1 || e.len() > 1 => bail!(
            "{what}: the modelenv block appears more than once (lines {}); keep one, nothing was changed",
            b.iter()
                .chain(e)
                .map(|i| (i + 1).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => bail!(
            "{what}: an unpaired modelenv marker (`{BEGIN}` without `{END}` or the reverse); fix the file by hand, nothing was changed"
        ),
    }
}

/// Converts a block rendered with `\n` to the file's line endings.
///
/// Shells read the `\r` of a CRLF line as part of the last word, so in a CRLF file every line
/// that is not already a comment ends in ` #`: the `\r` then belongs to a comment.
fn with_eol(block: &str, eol: &str) -> String {
    let body = block.strip_suffix('\n').unwrap_or(block);
    let mut out = String::with_capacity(block.len() + 32);
    for line in body.split('\n') {
        out.push_str(line);
        if eol == "\r\n" && !line.trim_start().starts_with('#') && !line.trim().is_empty() {
            out.push_str(" #");
        }
        out.push_str(eol);
    }
    out
}

/// Where to put a new block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    End,
    /// Before this line index.
    Line(usize),
}

/// The text with `block` in place of the existing block, or inserted at `at`. Returns the new
/// text and whether a line terminator had to be added to a last line that lacked one.
pub fn upsert(text: &str, block: &str, at: At, what: &str) -> Result<(String, bool)> {
    let l = Lines::new(text);
    let block = with_eol(block, l.eol());
    let mut out = String::with_capacity(text.len() + block.len() + 2);
    if let Some((b, e)) = find(&l.lines, what)? {
        out.extend(l.lines[..b].iter().copied());
        out.push_str(&block);
        // An existing block at the very end of a file without a final newline keeps that shape.
        let last_had_eol = l.lines[e].ends_with('\n');
        if !last_had_eol && e + 1 == l.lines.len() {
            out.truncate(out.len() - l.eol().len());
        }
        out.extend(l.lines[e + 1..].iter().copied());
        return Ok((out, false));
    }
    match at {
        At::Line(i) if i < l.lines.len() => {
            out.extend(l.lines[..i].iter().copied());
            out.push_str(&block);
            out.extend(l.lines[i..].iter().copied());
            Ok((out, false))
        }
        _ => {
            out.push_str(text);
            let added = !text.is_empty() && !text.ends_with('\n');
            if added {
                out.push_str(l.eol());
            }
            out.push_str(&block);
            Ok((out, added))
        }
    }
}

/// The text without the block. `added_eol` says install added a terminator to the line before
/// it, which goes too so the file comes back byte for byte.
pub fn remove(text: &str, added_eol: bool, what: &str) -> Result<Option<String>> {
    let l = Lines::new(text);
    let Some((b, e)) = find(&l.lines, what)? else {
        return Ok(None);
    };
    let mut out: String = l.lines[..b].concat();
    let tail: String = l.lines[e + 1..].concat();
    // Exactly the line end upsert added: the file's own (`\n` after a stray `\r` in an LF file).
    if added_eol && tail.is_empty() && out.ends_with(l.eol()) {
        out.truncate(out.len() - l.eol().len());
    }
    out.push_str(&tail);
    Ok(Some(out))
}

/// The block's exact text (its lines with their terminators), or `None`.
pub fn text_of(text: &str, what: &str) -> Result<Option<String>> {
    let l = Lines::new(text);
    Ok(find(&l.lines, what)?.map(|(b, e)| l.lines[b..=e].concat()))
}

/// The text with the block's lines replaced by `with`, exactly; `None` without a block.
pub fn replace_exact(text: &str, with: &str, what: &str) -> Result<Option<String>> {
    let l = Lines::new(text);
    Ok(find(&l.lines, what)?.map(|(b, e)| {
        let mut out: String = l.lines[..b].concat();
        out.push_str(with);
        out.push_str(&l.lines[e + 1..].concat());
        out
    }))
}

/// The first line of a bash "return unless interactive" guard, if the file has one.
pub fn bash_guard_line(text: &str) -> Option<usize> {
    let lines: Vec<&str> = text.split_inclusive('\n').map(bare).collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        let mentions_interactive = t.contains("$-") || t.contains("${-}") || t.contains("PS1");
        if mentions_interactive && t.contains("return") {
            return Some(i);
        }
        // `case $- in *i*) ;; *) return;; esac` spread over several lines.
        if t.starts_with("case") && (t.contains("$-") || t.contains("${-}")) {
            let window = lines[i..lines.len().min(i + 6)].join("\n");
            if window.contains("return") {
                return Some(i);
            }
        }
        // `if [ -z "$PS1" ]; then` / `if [[ $- != *i* ]]; then` followed by return.
        if t.starts_with("if") && (t.contains("$-") || t.contains("PS1")) {
            let window = lines[i..lines.len().min(i + 4)].join("\n");
            if window.contains("return") {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "# >>> modelenv >>>\nexport A=1\n# <<< modelenv <<<\n";

    #[test]
    fn append_then_remove_restores_bytes() {
        for original in [
            "",
            "x=1\n",
            "x=1",
            "a\r\nb\r\n",
            "a\r\nb",
            "x\r",
            "\n\r",
            "a\rb",
        ] {
            let (with, added) = upsert(original, B, At::End, "f").unwrap();
            assert!(with.contains("export A=1"));
            assert_eq!(
                upsert(&with, B, At::End, "f").unwrap().0,
                with,
                "again {original:?}"
            );
            let back = remove(&with, added, "f").unwrap().unwrap();
            assert_eq!(back, original, "original {original:?}");
        }
    }

    #[test]
    fn crlf_files_get_crlf_blocks() {
        let (with, _) = upsert("a\r\n", B, At::End, "f").unwrap();
        assert_eq!(
            with,
            "a\r\n# >>> modelenv >>>\r\nexport A=1 #\r\n# <<< modelenv <<<\r\n"
        );
    }

    #[test]
    fn existing_block_is_replaced_in_place() {
        let text = "top\n# >>> modelenv >>>\nexport A=0\n# <<< modelenv <<<\nbottom\n";
        let (new, _) = upsert(text, B, At::End, "f").unwrap();
        assert_eq!(
            new,
            "top\n# >>> modelenv >>>\nexport A=1\n# <<< modelenv <<<\nbottom\n"
        );
        assert_eq!(upsert(&new, B, At::End, "f").unwrap().0, new);
    }

    #[test]
    fn duplicate_and_unpaired_markers_are_refused() {
        let dup = format!("{B}{B}");
        assert!(
            upsert(&dup, B, At::End, "f")
                .unwrap_err()
                .to_string()
                .contains("more than once")
        );
        let unpaired = "# >>> modelenv >>>\nexport A=0\n";
        assert!(
            upsert(unpaired, B, At::End, "f")
                .unwrap_err()
                .to_string()
                .contains("unpaired")
        );
        assert!(remove(unpaired, false, "f").is_err());
    }

    #[test]
    fn guard_forms_are_found() {
        let debian = "# ~/.bashrc\n\n# If not running interactively, don't do anything\ncase $- in\n    *i*) ;;\n      *) return;;\nesac\nalias x=y\n";
        assert_eq!(bash_guard_line(debian), Some(3));
        assert_eq!(bash_guard_line("[ -z \"$PS1\" ] && return\n"), Some(0));
        assert_eq!(bash_guard_line("a=1\n[[ $- != *i* ]] && return\n"), Some(1));
        assert_eq!(
            bash_guard_line("if [[ $- != *i* ]]; then\n  return\nfi\n"),
            Some(0)
        );
        assert_eq!(bash_guard_line("alias ll='ls -l'\n"), None);
    }
}
