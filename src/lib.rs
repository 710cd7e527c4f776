//! modelenv: one central store for every model, and the proof that every library uses it.
//!
//! The binary (`main.rs`) only parses flags and dispatches; everything it runs lives here so
//! integration tests can reach the quoting and editing functions directly.

pub mod block;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod dotenv;
pub mod edit;
pub mod fsutil;
pub mod repo;
pub mod resolve;
pub mod scan;
pub mod settings;
pub mod shell;
pub mod stores;
pub mod ui;
pub mod units;
