//! `modelenv init SHELL`: the exports for `eval`. Runs in every new shell, so it reads at most
//! the config file (done by Settings) and nothing else.

use std::io::Write;

use anyhow::Result;

use crate::settings::Settings;
use crate::shell::Shell;

pub fn run(settings: &Settings, shell: Shell) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(shell.render_block(settings).as_bytes())?;
    Ok(())
}
