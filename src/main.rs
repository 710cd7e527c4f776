//! The modelenv binary: parse, dispatch, map errors to exit codes (0 ok, 1 problems found,
//! 2 usage or I/O error).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use modelenv::cli::{Cli, Command};
use modelenv::settings::{Env, Overrides, Settings, Source};
use modelenv::shell::Shell;
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
    // `init` runs in every new shell: its plain form skips building the whole clap parser,
    // which is a fifth of the cost of a run. Anything else (flags, --help) goes through clap.
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if let [sub, shell] = args.as_slice()
        && sub == "init"
        && let Some(shell) = shell.to_str().and_then(|s| s.parse::<Shell>().ok())
    {
        return finish(init_fast(shell));
    }
    let cli = Cli::parse();
    finish(run(cli))
}

fn finish(result: Result<cmd::Exit>) -> ExitCode {
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            ui::error(format!("{e:#}"));
            ExitCode::from(2)
        }
    }
}

fn init_fast(shell: Shell) -> Result<cmd::Exit> {
    let settings = Settings::resolve(&Env::from_process(), Path::new("/"), &Overrides::default())?;
    cmd::init::run(&settings, shell)?;
    Ok(cmd::Exit::Ok)
}

fn run(cli: Cli) -> Result<cmd::Exit> {
    let env = Env::from_process();
    let cwd = std::env::current_dir()?;
    let overrides = Overrides {
        hf_home: cli.locations.hf_home.clone(),
        custom_model_dir: cli.locations.custom_model_dir.clone(),
        ollama_models: None,
        login_env: None,
        bin_dir: match &cli.command {
            Command::Install(args) => args.bin_dir.clone(),
            _ => None,
        },
    };
    // install --system reads no config of root's own; uninstall works whatever unrelated
    // config keys say, and `config` is how they are fixed.
    let settings = if matches!(&cli.command, Command::Install(a) if a.system) {
        Settings::resolve_for_system(&env, &cwd, &overrides)?
    } else if matches!(cli.command, Command::Uninstall(_) | Command::Config { .. }) {
        let mut problems = Vec::new();
        let s = Settings::resolve_lenient(&env, &cwd, &overrides, &mut problems)?;
        for p in problems {
            ui::warn(format!("{p}; using the default"));
        }
        s
    } else {
        Settings::resolve(&env, &cwd, &overrides)?
    };
    // install records the locations the user's libraries use: when this process did not
    // get them (started where the login files were not read), a fresh login shell says.
    let settings = match &cli.command {
        // `install --system` takes only flags and the system config (see cmd::system).
        Command::Install(args)
            if !args.system
                && (settings.hf_home_source == Source::Default
                    || settings.custom_model_dir_source == Source::Default) =>
        {
            match cmd::doctor::login_env(&settings, &env) {
                Some(login) => Settings::resolve(
                    &env,
                    &cwd,
                    &Overrides {
                        login_env: Some(login),
                        ..overrides
                    },
                )?,
                None => settings,
            }
        }
        _ => settings,
    };
    match &cli.command {
        Command::Install(args) => cmd::install::run(&settings, &env, args),
        Command::Uninstall(args) => cmd::uninstall::run(&settings, args),
        Command::Init { shell } => cmd::init::run(&settings, *shell).map(|()| cmd::Exit::Ok),
        Command::Doctor(args) => cmd::doctor::run(&settings, &env, args),
        Command::Usage(args) => cmd::usage::run(&settings, args),
        Command::Prune(args) => cmd::prune::run(&settings, args),
        Command::Scan(args) => cmd::scan::run(&settings, args),
        Command::Dedupe(args) => cmd::dedupe::run(&settings, args),
        Command::Migrate(args) => cmd::migrate::run(&settings, &env, args),
        Command::Models { action } => match action {
            modelenv::cli::ModelsAction::Ls(args) => cmd::models::ls(&settings, args),
            modelenv::cli::ModelsAction::Rm(args) => cmd::manage::rm(&settings, args),
            modelenv::cli::ModelsAction::Archive(args) => cmd::manage::archive(&settings, args),
            modelenv::cli::ModelsAction::Restore(args) => cmd::manage::restore(&settings, args),
        },
        Command::Config { action } => cmd::config::run(&settings, &env, action),
        Command::Share {
            action: modelenv::cli::ShareAction::Init(args),
        } => cmd::share::init(&settings, args),
        Command::Completions { shell } => cmd::completions::run(*shell).map(|()| cmd::Exit::Ok),
    }
}
