# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_modelenv_global_optspecs
    string join \n hf-home= custom-model-dir= h/help V/version
end

function __fish_modelenv_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_modelenv_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_modelenv_using_subcommand
    set -l cmd (__fish_modelenv_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c modelenv -n "__fish_modelenv_needs_command" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_needs_command" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_needs_command" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_needs_command" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "install" -d 'Write the exports to your shell\'s startup files and the repo\'s .env.example, then run the doctor'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "uninstall" -d 'Remove exactly what install added; your files come back byte for byte'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "init" -d 'Print the exports for `eval "$(modelenv init zsh)"` or `modelenv init fish | source`'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "doctor" -d 'Check that every library and shell really resolves to the central locations'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "usage" -d 'Disk use across every model store: largest models, duplicates, what can be freed'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "models" -d 'List, remove, archive and restore models in every store'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "prune" -d 'Free what is safe to free: detached revisions, unfinished downloads, unreferenced blobs'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "scan" -d 'Find project-local model caches and configs that point at them'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "dedupe" -d 'Replace identical copies that must stay where they are with hard links or reflinks'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "migrate" -d 'Move project-local caches into the central store and point their configs at it'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "config" -d 'Read or change modelenv\'s config file'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "share" -d 'Share a store with every member of a group (a workstation, a JupyterHub, a cluster)'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c modelenv -n "__fish_modelenv_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -l shell -d 'Shell to configure (repeatable) [default: the basename of $SHELL; with --system, every one installed here]' -r -f -a "bash\t''
zsh\t''
fish\t''"
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -l repo -d 'Repository whose root .env.example gets the locations [default: the git root of the current directory]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -l bin-dir -d 'Also put DIR on PATH in the managed block, for shells whose PATH lacks it (install.sh passes the folder it installed modelenv into); remembered as `bin_dir` in the config' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -l dry-run -d 'Print a diff of every file that would change and change nothing'
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -l no-modify-profile -d 'Leave shell startup files alone (print what to add instead)'
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -l no-doctor -d 'Do not run the doctor afterwards'
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -s y -l yes -d 'Ask nothing (install never asks; accepted for scripted installs)'
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -l system -d 'For every user of this machine (as root): the exports in /etc/profile.d/modelenv.sh, the system bashrc, zsh\'s system zshenv and fish\'s conf.d, and the locations (--hf-home, --custom-model-dir) in /etc/modelenv/config.toml; `uninstall --system` undoes it'
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -l shadow-system -d 'On a machine with a system store (/etc/modelenv/config.toml), write your own exports and config even when they only repeat the system\'s [default: leave them to the system files, so the admin\'s store reaches you]'
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand install" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand uninstall" -l shell -d 'Only this shell\'s files (repeatable) [default: every shell modelenv knows]' -r -f -a "bash\t''
zsh\t''
fish\t''"
complete -c modelenv -n "__fish_modelenv_using_subcommand uninstall" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand uninstall" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand uninstall" -l dry-run -d 'Print a diff of every file that would change and change nothing'
complete -c modelenv -n "__fish_modelenv_using_subcommand uninstall" -l system -d 'Undo `install --system` (as root): every system file back byte for byte, the system config removed if install created it'
complete -c modelenv -n "__fish_modelenv_using_subcommand uninstall" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand uninstall" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand init" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand init" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand init" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand init" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand doctor" -l shell -d 'Shell to start fresh and check (repeatable) [default: the basename of $SHELL]' -r -f -a "bash\t''
zsh\t''
fish\t''"
complete -c modelenv -n "__fish_modelenv_using_subcommand doctor" -l repo -d 'Repository to check for project-local caches [default: the git root of the current directory]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand doctor" -l python -d 'Also ask this Python interpreter what its libraries resolve to (repeatable)' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand doctor" -l timeout -d 'Seconds to wait for each shell or interpreter before giving up on it' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand doctor" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand doctor" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand doctor" -l json -d 'Print the report as JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand doctor" -l no-probe -d 'Skip the probes that start shells, Python interpreters and systemctl'
complete -c modelenv -n "__fish_modelenv_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand usage" -l top -d 'How many of the largest models to show [default: 10; all with --json]' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand usage" -l store -d 'Only these stores (repeatable)' -r -f -a "hf-hub\t'The Hugging Face hub cache (<HF_HOME>/hub)'
hf-datasets\t'The datasets library\'s Arrow cache (<HF_HOME>/datasets)'
hf-xet\t'The Xet chunk cache (<HF_HOME>/xet)'
ollama\t'Ollama\'s models folder'
custom\t'CUSTOM_MODEL_DIR'
lmstudio\t'LM Studio\'s models folder'
local\t'A project-local folder given with --dir'"
complete -c modelenv -n "__fish_modelenv_using_subcommand usage" -l dir -d 'Also read this project-local folder (repeatable), e.g. ./model_cache' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand usage" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand usage" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand usage" -l json -d 'Print the report as JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand usage" -l no-hash-cache -d 'Hash files again instead of reusing hashes remembered from earlier runs'
complete -c modelenv -n "__fish_modelenv_using_subcommand usage" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c modelenv -n "__fish_modelenv_using_subcommand usage" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and not __fish_seen_subcommand_from ls rm archive restore help" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and not __fish_seen_subcommand_from ls rm archive restore help" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and not __fish_seen_subcommand_from ls rm archive restore help" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and not __fish_seen_subcommand_from ls rm archive restore help" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and not __fish_seen_subcommand_from ls rm archive restore help" -f -a "ls" -d 'List models, largest first'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and not __fish_seen_subcommand_from ls rm archive restore help" -f -a "rm" -d 'Remove a model: its files, and for Ollama the blobs no other model uses'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and not __fish_seen_subcommand_from ls rm archive restore help" -f -a "archive" -d 'Move a model to another folder (an external drive) and leave a symlink behind'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and not __fish_seen_subcommand_from ls rm archive restore help" -f -a "restore" -d 'Bring an archived model back into its store'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and not __fish_seen_subcommand_from ls rm archive restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from ls" -l filter -d 'Keep models matching KEY OP VALUE, e.g. size>1GB, accessed>30d, store=ollama (repeatable)' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from ls" -l sort -d 'Sort by size, name, accessed or modified, optionally :asc or :desc' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from ls" -l limit -d 'Show at most N models' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from ls" -l store -d 'Only these stores (repeatable)' -r -f -a "hf-hub\t'The Hugging Face hub cache (<HF_HOME>/hub)'
hf-datasets\t'The datasets library\'s Arrow cache (<HF_HOME>/datasets)'
hf-xet\t'The Xet chunk cache (<HF_HOME>/xet)'
ollama\t'Ollama\'s models folder'
custom\t'CUSTOM_MODEL_DIR'
lmstudio\t'LM Studio\'s models folder'
local\t'A project-local folder given with --dir'"
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from ls" -l dir -d 'Also read this project-local folder (repeatable)' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from ls" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from ls" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from ls" -l json -d 'Print JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from ls" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from rm" -l type -d 'For hf-hub ids that exist as more than one repo type' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from rm" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from rm" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from rm" -l dry-run -d 'Only show the plan and change nothing (with --json, every operation it would run)'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from rm" -l json -d 'Print the summary as JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from rm" -s y -l yes -d 'Do not ask for confirmation'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from rm" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from rm" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from archive" -l type -d 'For hf-hub ids that exist as more than one repo type' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from archive" -l to -d 'Folder to move it to, e.g. /media/drive/model-archive' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from archive" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from archive" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from archive" -l dry-run -d 'Only show the plan and change nothing (with --json, every operation it would run)'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from archive" -l json -d 'Print the summary as JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from archive" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from archive" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from restore" -l type -d 'For hf-hub ids that exist as more than one repo type' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from restore" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from restore" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from restore" -l dry-run -d 'Only show the plan and change nothing (with --json, every operation it would run)'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from restore" -l json -d 'Print the summary as JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from restore" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "ls" -d 'List models, largest first'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "rm" -d 'Remove a model: its files, and for Ollama the blobs no other model uses'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "archive" -d 'Move a model to another folder (an external drive) and leave a symlink behind'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Bring an archived model back into its store'
complete -c modelenv -n "__fish_modelenv_using_subcommand models; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c modelenv -n "__fish_modelenv_using_subcommand prune" -l older-than -d 'Only items last changed longer ago than this, e.g. 30d (never less than the one-hour grace that keeps downloads in progress and new orphans)' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand prune" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand prune" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand prune" -l apply -d 'Delete exactly what the dry run lists'
complete -c modelenv -n "__fish_modelenv_using_subcommand prune" -l dry-run -d 'Only show the plan (the default; with --json, every operation --apply would run)'
complete -c modelenv -n "__fish_modelenv_using_subcommand prune" -l json -d 'Print JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand prune" -l include-unreferenced -d 'Also free revisions of repos that have no ref at all (downloaded by commit hash)'
complete -c modelenv -n "__fish_modelenv_using_subcommand prune" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand prune" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand scan" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand scan" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand scan" -l json -d 'Print JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand scan" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand scan" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand dedupe" -l link -d 'Hard links (one file, any filesystem that has them) or reflinks (copy-on-write clones)' -r -f -a "hard\t''
reflink\t''"
complete -c modelenv -n "__fish_modelenv_using_subcommand dedupe" -l dir -d 'Also look in this folder (repeatable)' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand dedupe" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand dedupe" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand dedupe" -l apply -d 'Link exactly the copies the dry run lists'
complete -c modelenv -n "__fish_modelenv_using_subcommand dedupe" -l dry-run -d 'Only show the plan (the default; with --json, every operation --apply would run)'
complete -c modelenv -n "__fish_modelenv_using_subcommand dedupe" -l json -d 'Print JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand dedupe" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand dedupe" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l store -d 'Merge this whole other hub cache (an old HF_HOME\'s `hub`, the default cache next to a configured one) into the central one, with the same checks as a project cache (repeatable)' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l local-dir -d 'Import this `--local-dir` download (a folder huggingface_hub filled, with its `.cache/huggingface/download` metadata) into the central hub cache as blobs and a snapshot of its commit; its files stay where they are, as hard links of the blobs' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l stray -d 'Move this folder of the hub cache that is not in the hub layout (an `mlx_lm.convert` output, say; `modelenv usage` and the doctor name them) to CUSTOM_MODEL_DIR, keeping its name (repeatable)' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l repo -d 'The repo a --local-dir download came from (ORG/NAME); needed unless the central store already holds a repo with its files' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l repo-type -d 'The type of that repo' -r -f -a "model\t''
dataset\t''
space\t''"
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l ref -d 'Also point this ref (the branch or tag the download was made from, usually `main`) at the imported commit, so the libraries find the model by name offline, as if they had downloaded it; refused when the central store\'s ref names another commit' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l apply -d 'Carry out exactly the plan the dry run shows'
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l dry-run -d 'Only show the plan (the default; with --json, every operation --apply would run)'
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -l json -d 'Print JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand migrate" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and not __fish_seen_subcommand_from path get set help" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and not __fish_seen_subcommand_from path get set help" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and not __fish_seen_subcommand_from path get set help" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and not __fish_seen_subcommand_from path get set help" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and not __fish_seen_subcommand_from path get set help" -f -a "path" -d 'Print the config file\'s path'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and not __fish_seen_subcommand_from path get set help" -f -a "get" -d 'Print a key\'s effective value (config file, else the default)'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and not __fish_seen_subcommand_from path get set help" -f -a "set" -d 'Set a key, keeping the file\'s comments and layout; then say what is out of step (startup files that export the old value, models left in the old store) with the command that fixes it'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and not __fish_seen_subcommand_from path get set help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from path" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from path" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from path" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from path" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from get" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from get" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from get" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from set" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from set" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from set" -l apply -d 'Also do the next steps: re-run install for the shells and .env files it set up, and migrate the models of the old hub cache into the new one'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from set" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "path" -d 'Print the config file\'s path'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "get" -d 'Print a key\'s effective value (config file, else the default)'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "set" -d 'Set a key, keeping the file\'s comments and layout; then say what is out of step (startup files that export the old value, models left in the old store) with the command that fixes it'
complete -c modelenv -n "__fish_modelenv_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and not __fish_seen_subcommand_from init help" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and not __fish_seen_subcommand_from init help" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and not __fish_seen_subcommand_from init help" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and not __fish_seen_subcommand_from init help" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and not __fish_seen_subcommand_from init help" -f -a "init" -d 'Make DIR (an HF_HOME for everyone; created if missing) usable by every member of --group whatever their umask: group owner, group read/write, setgid folders and a default POSIX ACL where the filesystem has them. Dry run unless --apply; idempotent'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and not __fish_seen_subcommand_from init help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and __fish_seen_subcommand_from init" -l group -d 'The group whose members share it (name or number)' -r
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and __fish_seen_subcommand_from init" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and __fish_seen_subcommand_from init" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and __fish_seen_subcommand_from init" -l apply -d 'Change the folder and everything in it as the dry run lists'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and __fish_seen_subcommand_from init" -l dry-run -d 'Only show what would change (the default)'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and __fish_seen_subcommand_from init" -l json -d 'Print JSON on stdout'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and __fish_seen_subcommand_from init" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and __fish_seen_subcommand_from help" -f -a "init" -d 'Make DIR (an HF_HOME for everyone; created if missing) usable by every member of --group whatever their umask: group owner, group read/write, setgid folders and a default POSIX ACL where the filesystem has them. Dry run unless --apply; idempotent'
complete -c modelenv -n "__fish_modelenv_using_subcommand share; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c modelenv -n "__fish_modelenv_using_subcommand completions" -l hf-home -d 'Hugging Face home [default: ${XDG_CACHE_HOME:-~/.cache}/huggingface]; the hub cache is <HF_HOME>/hub' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand completions" -l custom-model-dir -d 'Folder for models that do not come from the Hugging Face hub [default: ~/models]' -r -F
complete -c modelenv -n "__fish_modelenv_using_subcommand completions" -s h -l help -d 'Print help'
complete -c modelenv -n "__fish_modelenv_using_subcommand completions" -s V -l version -d 'Print version'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "install" -d 'Write the exports to your shell\'s startup files and the repo\'s .env.example, then run the doctor'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "uninstall" -d 'Remove exactly what install added; your files come back byte for byte'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "init" -d 'Print the exports for `eval "$(modelenv init zsh)"` or `modelenv init fish | source`'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "doctor" -d 'Check that every library and shell really resolves to the central locations'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "usage" -d 'Disk use across every model store: largest models, duplicates, what can be freed'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "models" -d 'List, remove, archive and restore models in every store'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "prune" -d 'Free what is safe to free: detached revisions, unfinished downloads, unreferenced blobs'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "scan" -d 'Find project-local model caches and configs that point at them'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "dedupe" -d 'Replace identical copies that must stay where they are with hard links or reflinks'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "migrate" -d 'Move project-local caches into the central store and point their configs at it'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "config" -d 'Read or change modelenv\'s config file'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "share" -d 'Share a store with every member of a group (a workstation, a JupyterHub, a cluster)'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and not __fish_seen_subcommand_from install uninstall init doctor usage models prune scan dedupe migrate config share completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "ls" -d 'List models, largest first'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "rm" -d 'Remove a model: its files, and for Ollama the blobs no other model uses'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "archive" -d 'Move a model to another folder (an external drive) and leave a symlink behind'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and __fish_seen_subcommand_from models" -f -a "restore" -d 'Bring an archived model back into its store'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "path" -d 'Print the config file\'s path'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "get" -d 'Print a key\'s effective value (config file, else the default)'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "set" -d 'Set a key, keeping the file\'s comments and layout; then say what is out of step (startup files that export the old value, models left in the old store) with the command that fixes it'
complete -c modelenv -n "__fish_modelenv_using_subcommand help; and __fish_seen_subcommand_from share" -f -a "init" -d 'Make DIR (an HF_HOME for everyone; created if missing) usable by every member of --group whatever their umask: group owner, group read/write, setgid folders and a default POSIX ACL where the filesystem has them. Dry run unless --apply; idempotent'
