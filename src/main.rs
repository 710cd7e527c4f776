//! The modelenv binary: parse, dispatch, map errors to exit codes (0 ok, 1 problems found,
//! 2 usage or I/O error).

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use modelenv::cli::{Cli, Command};
use modelenv::settings::{Env, Overrides, Settings};
use modelenv::{cmd, ui};

fn main() -> ExitCode {
    // Hidden helper the doctor runs inside fresh shells; kept out of clap so it costs nothing.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == "internal-print-env")
    {
        cmd::doctor::print_env();
        return ExitCode::SUCCESS;
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            ui::error(format!("{e:#}"));
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let env = Env::from_process();
    let cwd = std::env::current_dir()?;
    let overrides = Overrides {
        hf_home: cli.locations.hf_home.clone(),
        custom_model_dir: cli.locations.custom_model_dir.clone(),
        ollama_models: None,
    };
    let settings = Settings::resolve(&env, &cwd, &overrides)?;
    match &cli.command {
        Command::Install(args) => cmd::install::run(&settings, &env, args),
        Command::Uninstall(args) => cmd::uninstall::run(&settings, args),
        Command::Init { shell } => cmd::init::run(&settings, *shell).map(|()| ExitCode::SUCCESS),
        Command::Doctor(args) => cmd::doctor::run(&settings, &env, args),
        Command::Config { action } => {
            cmd::config::run(&settings, &env, action).map(|()| ExitCode::SUCCESS)
        }
        Command::Completions { shell } => cmd::completions::run(*shell).map(|()| ExitCode::SUCCESS),
    }
}
