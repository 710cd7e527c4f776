//! Command-line types (clap derive). Every flag carries a doc line; `--help` is generated from them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::shell::Shell;
use crate::stores::StoreKind;

/// Keep every model on disk once: point Hugging Face, transformers, datasets, MLX and Ollama at
/// one central store, check that they really use it, and clean it up.
#[derive(Debug, Parser)]
#[command(
    name = "modelenv",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Changing files: every command that changes files takes --dry-run, which prints the plan and\nchanges nothing (with --json, every operation). prune, dedupe and migrate only plan unless given\n--apply; install, uninstall, config set and models rm/archive/restore act on what you name\n(models rm asks first). A refusal changes nothing and exits 2; a run that is stopped is\nfinished by the next modelenv that changes files.\n\nExit status: 0 ok, 1 problems found (or an operation refused), 2 error or refusal."
)]
pub struct Cli {
    #[command(flatten)]
    pub locations: Locations,

    #[command(subcommand)]
    pub command: Command,
}

/// Central locations; each overrides the config file for this run (install records them).
#[derive(Debug, Args, Clone, Default)]
pub struct Locations {
    /// Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub
    #[arg(long, global = true, value_name = "DIR")]
    pub hf_home: Option<PathBuf>,

    /// Folder for models that do not come from the Hugging Face hub [default: ~/models]
    #[arg(long, global = true, value_name = "DIR")]
    pub custom_model_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the exports to your shell's startup files and the repo's .env.example, then run the doctor
    #[command(
        after_help = "Examples:\n  modelenv install                 # for $SHELL\n  modelenv install --shell bash --shell zsh --dry-run\n  modelenv install --hf-home /data/hf --custom-model-dir /data/models\n  sudo modelenv install --system --hf-home /srv/hf --custom-model-dir /srv/models\n\nWith a system store (`install --system`), a user's install writes no exports or config of\nits own unless given --hf-home/--custom-model-dir or --shadow-system: the system's\nstartup files already give every shell the shared locations."
    )]
    Install(InstallArgs),

    /// Remove exactly what install added; your files come back byte for byte
    Uninstall(UninstallArgs),

    /// Print the exports for `eval "$(modelenv init zsh)"` or `modelenv init fish | source`
    Init {
        /// The shell to print code for
        shell: Shell,
    },

    /// Check that every library and shell really resolves to the central locations
    Doctor(DoctorArgs),

    /// Disk use across every model store: largest models, duplicates, what can be freed
    #[command(
        after_help = "Examples:\n  modelenv usage\n  modelenv usage --json --store hf-hub --store ollama\n  modelenv usage --dir ./model_cache --top 20"
    )]
    Usage(UsageArgs),

    /// List, remove, archive and restore models in every store
    Models {
        #[command(subcommand)]
        action: ModelsAction,
    },

    /// Free what is safe to free: detached revisions, unfinished downloads, unreferenced blobs
    #[command(
        after_help = "Dry run by default; --apply deletes exactly what the dry run lists.\nUnfinished downloads (.incomplete, -partial) and blobs nothing references are kept until\nthey are an hour old, as Ollama itself does, and an .incomplete whose huggingface_hub lock\nis held is never touched, so a download in progress is safe. Repos with no ref at all\n(downloaded by commit hash) are kept unless --include-unreferenced."
    )]
    Prune(PruneArgs),

    /// Find project-local model caches and configs that point at them
    Scan(ScanArgs),

    /// Replace identical copies that must stay where they are with hard links or reflinks
    Dedupe(DedupeArgs),

    /// Move project-local caches into the central store and point their configs at it
    #[command(
        after_help = "Dry run by default: prints each merge, each config diff and the bytes freed.\nWith --apply a run stopped at any point is completed by running it again."
    )]
    Migrate(MigrateArgs),

    /// Read or change modelenv's config file
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },

    /// Share a store with every member of a group (a workstation, a JupyterHub, a cluster)
    Share {
        #[command(subcommand)]
        action: ShareAction,
    },

    /// Print a shell completion script
    Completions {
        /// The shell to generate completions for
        shell: Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShareAction {
    /// Make DIR (an HF_HOME for everyone; created if missing) usable by every member of
    /// --group whatever their umask: group owner, group read/write, setgid folders and a
    /// default POSIX ACL where the filesystem has them. Dry run unless --apply; idempotent
    Init(ShareInitArgs),
}

#[derive(Debug, Args)]
pub struct ShareInitArgs {
    /// The shared store folder (the HF_HOME every user points at)
    pub dir: PathBuf,
    /// The group whose members share it (name or number)
    #[arg(long)]
    pub group: String,
    /// Change the folder and everything in it as the dry run lists
    #[arg(long, conflicts_with = "dry_run")]
    pub apply: bool,
    /// Only show what would change (the default)
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Shell to configure (repeatable) [default: the basename of $SHELL; with --system, every
    /// one installed here]
    #[arg(long = "shell", value_name = "SHELL")]
    pub shells: Vec<Shell>,

    /// Repository whose root .env.example gets the locations [default: the git root of the current directory]
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Print a diff of every file that would change and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Leave shell startup files alone (print what to add instead)
    #[arg(long)]
    pub no_modify_profile: bool,

    /// Do not run the doctor afterwards
    #[arg(long)]
    pub no_doctor: bool,

    /// Also put DIR on PATH in the managed block, for shells whose PATH lacks it (install.sh
    /// passes the folder it installed modelenv into); remembered as `bin_dir` in the config
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,

    /// These `.env` files instead of the repo's `.env.example` (`config set --apply`)
    #[arg(skip)]
    pub dotenv_files: Option<Vec<PathBuf>>,

    /// Ask nothing (install never asks; accepted for scripted installs)
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// For every user of this machine (as root): the exports in /etc/profile.d/modelenv.sh, the
    /// system bashrc, zsh's system zshenv and fish's conf.d, and the locations (--hf-home,
    /// --custom-model-dir) in /etc/modelenv/config.toml; `uninstall --system` undoes it
    #[arg(long, conflicts_with_all = ["repo", "no_modify_profile", "shadow_system"])]
    pub system: bool,

    /// On a machine with a system store (/etc/modelenv/config.toml), write your own exports
    /// and config even when they only repeat the system's [default: leave them to the system
    /// files, so the admin's store reaches you]
    #[arg(long)]
    pub shadow_system: bool,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Only this shell's files (repeatable) [default: every shell modelenv knows]
    #[arg(long = "shell", value_name = "SHELL")]
    pub shells: Vec<Shell>,

    /// Print a diff of every file that would change and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Undo `install --system` (as root): every system file back byte for byte, the system
    /// config removed if install created it
    #[arg(long, conflicts_with = "shells")]
    pub system: bool,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// Shell to start fresh and check (repeatable) [default: the basename of $SHELL]
    #[arg(long = "shell", value_name = "SHELL")]
    pub shells: Vec<Shell>,

    /// Repository to check for project-local caches [default: the git root of the current directory]
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// Also ask this Python interpreter what its libraries resolve to (repeatable)
    #[arg(long = "python", value_name = "PATH")]
    pub pythons: Vec<PathBuf>,

    /// Skip the probes that start shells, Python interpreters and systemctl
    #[arg(long)]
    pub no_probe: bool,

    /// Seconds to wait for each shell or interpreter before giving up on it
    #[arg(long, default_value_t = 20, value_name = "SECS")]
    pub timeout: u64,

    /// Set by `install --no-modify-profile`: the shells are not meant to have the block.
    #[arg(skip)]
    pub skip_shells: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the config file's path
    Path,
    /// Print a key's effective value (config file, else the default)
    Get {
        /// hf_home, custom_model_dir, ollama_models, headroom, transformers_cache or bin_dir
        key: String,
    },
    /// Set a key, keeping the file's comments and layout; then say what is out of step (startup
    /// files that export the old value, models left in the old store) with the command that
    /// fixes it
    Set {
        /// hf_home, custom_model_dir, ollama_models, bin_dir (paths); headroom (free space to
        /// keep on a store's disk, such as 20GB; default a tenth of the disk, at most 50 GB);
        /// transformers_cache (false: TRANSFORMERS_CACHE is left out of the shells, `init` and
        /// .env.example; only transformers 4.x reads it)
        key: String,
        /// A path (`~/…` is kept as written and expanded when read), a size, or true/false
        value: String,
        /// Also do the next steps: re-run install for the shells and .env files it set up,
        /// and migrate the models of the old hub cache into the new one
        #[arg(long)]
        apply: bool,
    },
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Print the report as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// How many of the largest models to show [default: 10; all with --json]
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,

    /// Only these stores (repeatable)
    #[arg(long = "store", value_name = "STORE")]
    pub stores: Vec<StoreKind>,

    /// Also read this project-local folder (repeatable), e.g. ./model_cache
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,

    /// Hash files again instead of reusing hashes remembered from earlier runs
    #[arg(long)]
    pub no_hash_cache: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// List models, largest first
    #[command(
        after_help = "Filters (repeat --filter to combine them):\n  size>1GB  size<=500MB  accessed>30d  modified<7d\n  type=model|dataset|space|kernel|gguf|folder  store=hf-hub|ollama|custom|lmstudio|local\n  id=meta-llama/*  refs=main\nUnits: B, KB, MB, GB, TB (decimal), KiB..TiB; s, m, h, d, w, mo, y."
    )]
    Ls(LsArgs),

    /// Remove a model: its files, and for Ollama the blobs no other model uses
    Rm(RmArgs),

    /// Move a model to another folder (an external drive) and leave a symlink behind
    Archive(ArchiveArgs),

    /// Bring an archived model back into its store
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct RmArgs {
    #[command(flatten)]
    pub target: ModelTarget,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    #[command(flatten)]
    pub target: ModelTarget,
    /// Folder to move it to, e.g. /media/drive/model-archive
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub target: ModelTarget,
}

/// The model a `models` subcommand acts on, and how it reports.
#[derive(Debug, Args)]
pub struct ModelTarget {
    /// The model as `usage` prints it: hf-hub:org/name, ollama:name:tag, custom:<path>
    pub model: String,
    /// For hf-hub ids that exist as more than one repo type
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Only show the plan and change nothing (with --json, every operation it would run)
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete exactly what the dry run lists
    #[arg(long, conflicts_with = "dry_run")]
    pub apply: bool,
    /// Only show the plan (the default; with --json, every operation --apply would run)
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Only items last changed longer ago than this, e.g. 30d (never less than the one-hour
    /// grace that keeps downloads in progress and new orphans)
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// Also free revisions of repos that have no ref at all (downloaded by commit hash)
    #[arg(long)]
    pub include_unreferenced: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Folders to scan [default: the git root of the current directory]
    pub dirs: Vec<PathBuf>,
    /// Print JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// Keep models matching KEY OP VALUE, e.g. size>1GB, accessed>30d, store=ollama (repeatable)
    #[arg(long = "filter", value_name = "EXPR")]
    pub filters: Vec<String>,

    /// Sort by size, name, accessed or modified, optionally :asc or :desc
    #[arg(long, default_value = "size", value_name = "KEY")]
    pub sort: String,

    /// Show at most N models
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,

    /// Only these stores (repeatable)
    #[arg(long = "store", value_name = "STORE")]
    pub stores: Vec<StoreKind>,

    /// Also read this project-local folder (repeatable)
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Folders to migrate [default: the git root of the current directory, unless --store is given]
    pub dirs: Vec<PathBuf>,
    /// Merge this whole other hub cache (an old HF_HOME's `hub`, the default cache next to a
    /// configured one) into the central one, with the same checks as a project cache (repeatable)
    #[arg(long = "store", value_name = "HUB_CACHE")]
    pub stores: Vec<PathBuf>,
    /// Import this `--local-dir` download (a folder huggingface_hub filled, with its
    /// `.cache/huggingface/download` metadata) into the central hub cache as blobs and a
    /// snapshot of its commit; its files stay where they are, as hard links of the blobs
    #[arg(long = "local-dir", value_name = "DIR", conflicts_with_all = ["dirs", "stores", "strays"])]
    pub local_dir: Option<PathBuf>,
    /// Move this folder of the hub cache that is not in the hub layout (an `mlx_lm.convert`
    /// output, say; `modelenv usage` and the doctor name them) to CUSTOM_MODEL_DIR, keeping its
    /// name (repeatable)
    #[arg(long = "stray", value_name = "DIR", conflicts_with_all = ["dirs", "stores"])]
    pub strays: Vec<PathBuf>,
    /// The repo a --local-dir download came from (ORG/NAME); needed unless the central store
    /// already holds a repo with its files
    #[arg(long, value_name = "ORG/NAME", requires = "local_dir")]
    pub repo: Option<String>,
    /// The type of that repo
    #[arg(long, value_name = "TYPE", default_value = "model", value_parser = ["model", "dataset", "space"], requires = "local_dir")]
    pub repo_type: String,
    /// Also point this ref (the branch or tag the download was made from, usually `main`) at
    /// the imported commit, so the libraries find the model by name offline, as if they had
    /// downloaded it; refused when the central store's ref names another commit
    #[arg(long = "ref", value_name = "NAME", requires = "local_dir")]
    pub git_ref: Option<String>,
    /// Carry out exactly the plan the dry run shows
    #[arg(long, conflicts_with = "dry_run")]
    pub apply: bool,
    /// Only show the plan (the default; with --json, every operation --apply would run)
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DedupeArgs {
    /// Link exactly the copies the dry run lists
    #[arg(long, conflicts_with = "dry_run")]
    pub apply: bool,
    /// Only show the plan (the default; with --json, every operation --apply would run)
    #[arg(long)]
    pub dry_run: bool,
    /// Hard links (one file, any filesystem that has them) or reflinks (copy-on-write clones)
    #[arg(long, value_enum, default_value = "hard")]
    pub link: LinkKind,
    /// Also look in this folder (repeatable)
    #[arg(long = "dir", value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Print JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LinkKind {
    Hard,
    Reflink,
}
