//! modelenv: one central store for every model, and the proof that every library uses it.
//!
//! The binary (`main.rs`) only parses flags and dispatches; everything it runs lives here so
//! integration tests can reach the quoting and editing functions directly.

pub mod block;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod configfile;
pub mod dotenv;
pub mod edit;
pub mod fsops;
pub mod fsutil;
pub mod migrate;
pub mod migrate_local;
pub mod probe;
pub mod repo;
pub mod resolve;
pub mod scan;
pub mod settings;
pub mod shell;
pub mod stores;
pub mod ui;
pub mod units;

/// Bytes of the regular files below `p` (symlinks not followed).
pub fn scan_size(p: &std::path::Path) -> u64 {
    walkdir::WalkDir::new(p)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}
