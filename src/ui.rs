//! Messages for people on stderr: `error:`, `warning:`, `note:` and `hint:` prefixes, readable
//! without colour; colour only when stderr is a terminal and NO_COLOR is unset (console decides).

use console::style;

pub fn warn(msg: impl std::fmt::Display) {
    eprintln!("{} {msg}", style("warning:").yellow().bold().for_stderr());
}

pub fn note(msg: impl std::fmt::Display) {
    eprintln!("{} {msg}", style("note:").cyan().bold().for_stderr());
}

pub fn hint(msg: impl std::fmt::Display) {
    eprintln!("{} {msg}", style("hint:").green().bold().for_stderr());
}

pub fn error(msg: impl std::fmt::Display) {
    eprintln!("{} {msg}", style("error:").red().bold().for_stderr());
}
