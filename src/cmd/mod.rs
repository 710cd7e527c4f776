//! One module per subcommand.

pub mod completions;
pub mod config;
pub mod dedupe;
pub mod doctor;
pub mod init;
pub mod install;
pub mod inventory;
pub mod manage;
pub mod migrate;
pub mod models;
pub mod prune;
pub mod scan;
pub mod uninstall;
pub mod usage;

use std::path::Path;

use crate::settings::Settings;

/// A path for messages: `~/…` below HOME.
pub fn show(settings: &Settings, p: &Path) -> String {
    settings.tilde(p)
}
