//! `modelenv install --system` / `uninstall --system` against this machine's real shells and
//! the real system paths (/etc/profile.d, zsh's system zshenv, fish's conf.d,
//! /etc/modelenv, /var/lib/modelenv), each command run in a private mount namespace where a
//! copy of /etc and an empty /var/lib are mounted over the real ones: the machine's own files
//! are never touched. Fresh shells are started as a user who never ran modelenv (`nobody`,
//! with a clean environment and an empty HOME).
// Tests build the situations they check on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Entry, TestEnv, stderr, stdout};

/// Mounts `$1/etc` on /etc and `$1/var/lib` on /var/lib, then runs the rest.
const IN_NAMESPACE: &str =
    r#"t=$1; shift; mount --bind "$t/etc" /etc && mount --bind "$t/var/lib" /var/lib && exec "$@""#;

const NOBODY: &str = "65534";
const HF: &str = "/srv/shared-hf";
/// A space and a quote: the exports must carry it byte for byte in every shell.
const CUSTOM: &str = "/srv/shared models/it's";

struct Machine {
    env: TestEnv,
    /// The copy of /etc every command sees as /etc.
    etc: PathBuf,
    /// root's HOME for modelenv runs (no config of its own).
    root_home: PathBuf,
    /// The HOME of the user who never ran modelenv.
    user_home: PathBuf,
    /// The modelenv binary, copied where every user can run it.
    bin: PathBuf,
}

fn geteuid() -> u32 {
    // SAFETY: a plain syscall without arguments.
    unsafe { libc::geteuid() }
}

fn machine() -> Option<Machine> {
    if geteuid() != 0 {
        eprintln!("skipped: needs root (mount namespaces, files in /etc)");
        return None;
    }
    let env = TestEnv::new();
    let tmp = env.tmp.path().to_path_buf();
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).unwrap();
    let probe = Command::new("unshare")
        .args(["-m", "mount", "--bind"])
        .arg(&tmp)
        .arg(&tmp)
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            eprintln!(
                "skipped: cannot mount in a private namespace (unshare -m): {}",
                stderr(&o)
            );
            return None;
        }
        Err(e) => {
            eprintln!("skipped: unshare is not available: {e}");
            return None;
        }
    }
    for sh in ["bash", "zsh", "fish", "dash"] {
        common::require(sh);
    }
    let etc = tmp.join("etc");
    // Another process may add or remove a file in /etc while it is copied (useradd's lock
    // files): a few attempts.
    let copied = (0..3).any(|_| {
        let _ = std::fs::remove_dir_all(&etc);
        std::fs::create_dir_all(&etc).unwrap();
        Command::new("cp")
            .arg("-a")
            .arg("/etc/.")
            .arg(&etc)
            .status()
            .unwrap()
            .success()
    });
    assert!(copied, "copying /etc failed");
    // A machine that already has a system install would make the copy start from it.
    for leftover in [
        "modelenv",
        "profile.d/modelenv.sh",
        "fish/conf.d/modelenv.fish",
    ] {
        let p = etc.join(leftover);
        let _ = std::fs::remove_dir_all(&p);
        let _ = std::fs::remove_file(&p);
    }
    std::fs::create_dir_all(tmp.join("var/lib")).unwrap();
    let root_home = tmp.join("root-home");
    std::fs::create_dir_all(&root_home).unwrap();
    let user_home = tmp.join("user-home");
    std::fs::create_dir_all(&user_home).unwrap();
    std::os::unix::fs::chown(&user_home, Some(65534), Some(65534)).unwrap();
    let bin = tmp.join("modelenv");
    std::fs::copy(common::bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(Machine {
        env,
        etc,
        root_home,
        user_home,
        bin,
    })
}

impl Machine {
    /// `argv` in the namespace, with only `vars` (and PATH, TERM) in its environment; as the
    /// user `nobody` when `as_nobody`.
    fn run(&self, as_nobody: bool, vars: &[(&str, &Path)], argv: &[&str]) -> Output {
        let mut c = Command::new("unshare");
        c.args(["-m", "sh", "-c", IN_NAMESPACE, "sh"])
            .arg(self.env.tmp.path());
        if as_nobody {
            c.args([
                "setpriv",
                "--reuid",
                NOBODY,
                "--regid",
                NOBODY,
                "--clear-groups",
            ]);
        }
        c.args(argv)
            .env_clear()
            .env("PATH", common::sys_path())
            .env("TERM", "dumb")
            .current_dir("/")
            .stdin(std::process::Stdio::null());
        for (k, v) in vars {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    /// modelenv as root, with root's (empty) HOME and the real system paths.
    fn root(&self, args: &[&str]) -> Output {
        let mut argv = vec![self.bin.to_str().unwrap()];
        argv.extend_from_slice(args);
        self.run(
            false,
            &[
                ("HOME", &self.root_home),
                ("USER", Path::new("root")),
                ("SHELL", Path::new("/bin/bash")),
            ],
            &argv,
        )
    }

    /// [`Machine::root`] killed after `kill` changes (the test hook).
    fn root_killed_after(&self, kill: u64, args: &[&str]) -> Output {
        let mut argv = vec![self.bin.to_str().unwrap()];
        argv.extend_from_slice(args);
        let kill = kill.to_string();
        self.run(
            false,
            &[
                ("HOME", &self.root_home),
                ("USER", Path::new("root")),
                ("SHELL", Path::new("/bin/bash")),
                ("MODELENV_TEST_KILL_AFTER", Path::new(&kill)),
            ],
            &argv,
        )
    }

    fn root_ok(&self, args: &[&str]) -> Output {
        let out = self.root(args);
        assert!(
            out.status.success(),
            "modelenv {args:?} failed: {}\n{}{}",
            out.status,
            stdout(&out),
            stderr(&out)
        );
        out
    }

    /// What a fresh `shell flags` of `nobody` (who never ran modelenv) exports: each of the
    /// four variables, `None` when unset.
    fn fresh(&self, shell: &str, flags: &[&str], home: &Path) -> Vec<Option<String>> {
        let names = [
            "HF_HOME",
            "TRANSFORMERS_CACHE",
            "HF_DATASETS_CACHE",
            "CUSTOM_MODEL_DIR",
        ];
        let script: String = names
            .iter()
            .map(|n| {
                if shell == "fish" {
                    format!("if set -q {n}; printf '<%s>' \"${n}\"; else; printf '<->'; end; ")
                } else {
                    format!(
                        "if [ -n \"${{{n}+x}}\" ]; then printf '<%s>' \"${n}\"; else printf '<->'; fi; "
                    )
                }
            })
            .collect();
        let script = format!("printf '@@'; {script}printf '@@'");
        let mut argv = vec![shell];
        argv.extend_from_slice(flags);
        argv.push(&script);
        let out = self.run(
            true,
            &[("HOME", home), ("USER", Path::new("nobody"))],
            &argv,
        );
        let text = stdout(&out);
        let inner = text
            .split("@@")
            .nth(1)
            .unwrap_or_else(|| panic!("{shell} {flags:?} printed nothing: {}", stderr(&out)));
        inner
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix('>'))
            .unwrap()
            .split("><")
            .map(|v| (v != "-").then(|| v.to_owned()))
            .collect()
    }

    /// The copy of /etc, entry by entry.
    fn etc_snapshot(&self) -> BTreeMap<PathBuf, Entry> {
        self.env
            .snapshot()
            .into_iter()
            .filter(|(p, _)| p.starts_with("etc"))
            .collect()
    }

    /// The system zshenv this machine's zsh reads, in the copy (Debian's, else the usual).
    fn zshenv(&self) -> PathBuf {
        let debian = self.etc.join("zsh/zshenv");
        if debian.exists() {
            debian
        } else {
            self.etc.join("zshenv")
        }
    }
}

fn shared() -> Vec<Option<String>> {
    [
        HF.to_owned(),
        format!("{HF}/hub"),
        format!("{HF}/datasets"),
        CUSTOM.to_owned(),
    ]
    .into_iter()
    .map(Some)
    .collect()
}

const FRESH_SHELLS: &[(&str, &[&str])] = &[
    ("bash", &["-l", "-c"]),
    ("bash", &["-i", "-c"]),
    ("dash", &["-l", "-c"]),
    ("zsh", &["-c"]),
    ("zsh", &["-l", "-c"]),
    ("zsh", &["-i", "-c"]),
    ("fish", &["-c"]),
    ("fish", &["-l", "-c"]),
];

#[test]
fn every_users_fresh_shells_get_the_system_store_and_uninstall_restores_every_byte() {
    let Some(m) = machine() else {
        return;
    };
    // The admin's own zshenv: arbitrary bytes, no final newline.
    let zshenv = m.zshenv();
    let mut own = std::fs::read(&zshenv).unwrap_or_default();
    own.extend_from_slice("\n# l'admin était là\t\\ $PATH `x`\nexport ADMIN_ONLY=1".as_bytes());
    std::fs::write(&zshenv, &own).unwrap();
    let before = m.etc_snapshot();
    // Nothing reaches a fresh shell before.
    assert_eq!(
        m.fresh("bash", &["-l", "-c"], &m.user_home),
        vec![None; 4],
        "this machine already exports the variables: the test proves nothing"
    );

    let out = m.root_ok(&[
        "install",
        "--system",
        "--hf-home",
        HF,
        "--custom-model-dir",
        CUSTOM,
    ]);
    let err = stderr(&out);
    for f in [
        "/etc/profile.d/modelenv.sh",
        "/etc/fish/conf.d/modelenv.fish",
        "/etc/modelenv/config.toml",
    ] {
        assert!(err.contains(&format!("updated {f}")), "{err}");
    }
    let zshenv_shown = format!(
        "/{}",
        zshenv.strip_prefix(m.env.tmp.path()).unwrap().display()
    );
    assert!(err.contains(&format!("updated {zshenv_shown}")), "{err}");
    // Every user can read them.
    for f in [
        "profile.d/modelenv.sh",
        "fish/conf.d/modelenv.fish",
        "modelenv/config.toml",
    ] {
        let mode = std::fs::metadata(m.etc.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{f}");
    }
    let config = std::fs::read_to_string(m.etc.join("modelenv/config.toml")).unwrap();
    assert!(
        config.contains(&format!("hf_home = \"{HF}\""))
            && config.contains("custom_model_dir = \"/srv/shared models/it's\""),
        "{config}"
    );
    // The admin's bytes are all still there, in front of the block.
    let with_block = std::fs::read(&zshenv).unwrap();
    assert!(with_block.starts_with(&own), "zshenv lost bytes");

    for (shell, flags) in FRESH_SHELLS {
        assert_eq!(
            m.fresh(shell, flags, &m.user_home),
            shared(),
            "a fresh {shell} {flags:?} of a user who never ran modelenv"
        );
    }

    // Again, with no flag: the locations come from the system config; not a byte changes.
    let installed = m.env.snapshot();
    let again = m.root_ok(&["install", "--system"]);
    assert!(
        stderr(&again).contains("no file changed"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        common::changed(&installed, &m.env.snapshot()),
        Vec::<PathBuf>::new()
    );

    // A dry run of the uninstall shows the removals and changes nothing.
    let dry = m.root_ok(&["uninstall", "--system", "--dry-run"]);
    assert!(
        stdout(&dry).contains("-export HF_HOME='/srv/shared-hf'"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(
        common::changed(&installed, &m.env.snapshot()),
        Vec::<PathBuf>::new()
    );

    let out = m.root_ok(&["uninstall", "--system"]);
    let err = stderr(&out);
    assert!(
        err.contains("removed /etc/modelenv/config.toml")
            && err.contains("removed the folder /etc/modelenv"),
        "{err}"
    );
    let after = m.etc_snapshot();
    assert_eq!(common::changed(&before, &after), Vec::<PathBuf>::new());
    assert_eq!(before, after);
    assert_eq!(std::fs::read(&zshenv).unwrap(), own);
    assert_eq!(
        m.fresh("zsh", &["-c"], &m.user_home),
        vec![None; 4],
        "the exports outlive uninstall"
    );
}

/// `uninstall --system` killed after any change, then run again: /etc is as it was, the
/// folder install made (`/etc/modelenv`) included.
#[test]
fn uninstall_system_killed_anywhere_then_rerun_restores_etc_whole() {
    let mut kills = 0;
    for kill in 1..=12 {
        let Some(m) = machine() else {
            return;
        };
        let before = m.etc_snapshot();
        assert!(!m.etc.join("modelenv").exists());
        m.root_ok(&[
            "install",
            "--system",
            "--hf-home",
            HF,
            "--custom-model-dir",
            CUSTOM,
        ]);
        let out = m.root_killed_after(kill, &["uninstall", "--system"]);
        // Through unshare and sh the kill shows as status 137 (or sh says so).
        let killed = common::killed(&out)
            || out.status.code() == Some(137)
            || stderr(&out).contains("Killed");
        if killed {
            kills += 1;
            m.root_ok(&["uninstall", "--system"]);
        } else {
            assert!(out.status.success(), "{}", stderr(&out));
        }
        assert_eq!(
            common::changed(&before, &m.etc_snapshot()),
            Vec::<PathBuf>::new(),
            "kill {kill}"
        );
        if !killed {
            break;
        }
    }
    assert!(kills >= 2, "only {kills} runs were killed");
}

#[test]
fn a_system_config_of_the_admins_own_gets_its_bytes_back() {
    let Some(m) = machine() else {
        return;
    };
    let cfg = m.etc.join("modelenv/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    let own = "# ours\nhf_home = \"/old/hf\"   # keep\nheadroom = \"20GB\"";
    std::fs::write(&cfg, own).unwrap();
    let before = m.etc_snapshot();
    m.root_ok(&[
        "install",
        "--system",
        "--hf-home",
        HF,
        "--custom-model-dir",
        CUSTOM,
    ]);
    let written = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        written.starts_with("# ours\nhf_home = \"/srv/shared-hf\"   # keep\n"),
        "{written}"
    );
    for (shell, flags) in [("bash", &["-l", "-c"][..]), ("fish", &["-c"][..])] {
        assert_eq!(m.fresh(shell, flags, &m.user_home), shared());
    }
    m.root_ok(&["uninstall", "--system"]);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), own);
    assert_eq!(
        common::changed(&before, &m.etc_snapshot()),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn install_system_is_refused_for_other_users_and_without_shared_locations() {
    let Some(m) = machine() else {
        return;
    };
    let before = m.env.snapshot();
    for args in [
        &[
            "install",
            "--system",
            "--hf-home",
            HF,
            "--custom-model-dir",
            CUSTOM,
        ][..],
        &["uninstall", "--system"][..],
    ] {
        let mut argv = vec![m.bin.to_str().unwrap()];
        argv.extend_from_slice(args);
        let out = m.run(
            true,
            &[("HOME", &m.user_home), ("SHELL", Path::new("/bin/bash"))],
            &argv,
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("must be run as root"),
            "{}",
            stderr(&out)
        );
    }
    // root without the locations: root's defaults, and root's own config, are no store for
    // everyone.
    let root_cfg = m.root_home.join(".config/modelenv/config.toml");
    std::fs::create_dir_all(root_cfg.parent().unwrap()).unwrap();
    std::fs::write(
        &root_cfg,
        "hf_home = \"~/hf\"\nbin_dir = \"~/.local/bin\"\ntransformers_cache = false\n",
    )
    .unwrap();
    let out = m.root(&["install", "--system", "--custom-model-dir", CUSTOM]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pass --hf-home DIR"),
        "{}",
        stderr(&out)
    );
    // A dry run shows the exports and writes nothing.
    let dry = m.root_ok(&[
        "install",
        "--system",
        "--hf-home",
        HF,
        "--custom-model-dir",
        CUSTOM,
        "--dry-run",
    ]);
    // Nothing of root's own config reaches every user.
    assert!(
        !stdout(&dry).contains("root-home") && stdout(&dry).contains("TRANSFORMERS_CACHE"),
        "{}",
        stdout(&dry)
    );
    assert!(
        stdout(&dry).contains("+export HF_HOME='/srv/shared-hf'")
            && stdout(&dry).contains("+set -gx CUSTOM_MODEL_DIR '/srv/shared models/it\\'s'")
            && stdout(&dry).contains("+++ b/etc/modelenv/config.toml"),
        "{}",
        stdout(&dry)
    );
    // (The users' HOMEs aside: shells and root's config made above.)
    let user_home = m.user_home.strip_prefix(m.env.tmp.path()).unwrap();
    let root_home = m.root_home.strip_prefix(m.env.tmp.path()).unwrap();
    let changed: Vec<PathBuf> = common::changed(&before, &m.env.snapshot())
        .into_iter()
        .filter(|p| !p.starts_with(user_home) && !p.starts_with(root_home))
        .collect();
    assert_eq!(changed, Vec::<PathBuf>::new());
}

#[test]
fn a_users_install_names_the_system_store_and_does_not_shadow_it() {
    let Some(m) = machine() else {
        return;
    };
    m.root_ok(&[
        "install",
        "--system",
        "--hf-home",
        HF,
        "--custom-model-dir",
        CUSTOM,
    ]);
    // A user (root with another HOME: the files are what matters) installs for their shells.
    let home = m.env.home.clone();
    let repo = m.env.repo.clone();
    let user = |args: &[&str]| {
        let mut argv = vec![m.bin.to_str().unwrap()];
        argv.extend_from_slice(args);
        m.run(
            false,
            &[("HOME", &home), ("SHELL", Path::new("/bin/bash"))],
            &[
                "sh",
                "-c",
                "cd \"$0\" && exec \"$@\"",
                repo.to_str().unwrap(),
            ]
            .into_iter()
            .chain(argv)
            .collect::<Vec<_>>(),
        )
    };
    let shells = [
        "--no-doctor",
        "--shell",
        "bash",
        "--shell",
        "zsh",
        "--shell",
        "fish",
    ];
    let mut args = vec!["install"];
    args.extend(shells);
    let out = user(&args);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("this machine has a system store (/etc/modelenv/config.toml)")
            && err.contains(&format!("HF_HOME={HF} CUSTOM_MODEL_DIR={CUSTOM}"))
            && err.contains("/etc/profile.d/modelenv.sh")
            && err.contains("/etc/fish/conf.d/modelenv.fish")
            && err.contains("using the system store"),
        "{err}"
    );
    for f in [
        ".bashrc",
        ".profile",
        ".zshenv",
        ".config/fish/conf.d/modelenv.fish",
        ".config/modelenv/config.toml",
    ] {
        assert!(!home.join(f).exists(), "{f} was written: {err}");
    }
    // The user's shells follow the system store.
    for (shell, flags) in [("bash", &["-l", "-c"][..]), ("zsh", &["-c"][..])] {
        assert_eq!(m.fresh(shell, flags, &home), shared());
    }
    // Again: nothing changes.
    let first = m.env.snapshot();
    let out = user(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        common::changed(&first, &m.env.snapshot()),
        Vec::<PathBuf>::new()
    );

    // install.sh's `--bin-dir`: only that folder goes on PATH in the user's files.
    let bin_dir = home.join(".local/bin");
    let mut args = vec!["install", "--bin-dir", bin_dir.to_str().unwrap()];
    args.extend(shells);
    let out = user(&args);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("only modelenv's folder"), "{err}");
    let bashrc = std::fs::read_to_string(home.join(".bashrc")).unwrap();
    assert!(
        bashrc.contains("export PATH=\"$HOME/.local/bin\":\"$PATH\"")
            && !bashrc.contains("HF_HOME"),
        "{bashrc}"
    );
    let fish = std::fs::read_to_string(home.join(".config/fish/conf.d/modelenv.fish")).unwrap();
    assert!(
        fish.contains("set -gx PATH") && !fish.contains("HF_HOME"),
        "{fish}"
    );
    // fish reads only the user's modelenv.fish of the two: the user's sources the system's.
    assert!(
        fish.contains("source '/etc/fish/conf.d/modelenv.fish'"),
        "{fish}"
    );
    for (shell, flags) in [
        ("bash", &["-l", "-c"][..]),
        ("zsh", &["-c"][..]),
        ("fish", &["-c"][..]),
    ] {
        assert_eq!(m.fresh(shell, flags, &home), shared(), "{shell}");
    }
    let out = user(&["uninstall"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!home.join(".bashrc").exists());

    // Asked for: --shadow-system writes the user's own exports of the same locations.
    let mut args = vec!["install", "--shadow-system"];
    args.extend(shells);
    let out = user(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(home.join(".bashrc"))
            .unwrap()
            .contains("export HF_HOME='/srv/shared-hf'")
    );
    let out = user(&["uninstall"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A location of the user's own shadows the system store, and install says so.
    let mut args = vec!["--hf-home", "/mine/hf", "install"];
    args.extend(shells);
    let out = user(&args);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("your HF_HOME=/mine/hf (the command line) shadows the system store's"),
        "{err}"
    );
    assert_eq!(
        m.fresh("zsh", &["-c"], &home)[0].as_deref(),
        Some("/mine/hf")
    );
}

#[test]
fn install_system_leaves_the_store_itself_alone() {
    let Some(m) = machine() else {
        return;
    };
    // A shared store that exists (its hub too), as `share init` leaves it.
    let store = m.env.tmp.path().join("store");
    std::fs::create_dir_all(store.join("hub")).unwrap();
    let before = m.env.snapshot();
    let hf = store.to_str().unwrap();
    // On a system whose /etc/profile does not read /etc/profile.d, install says so.
    std::fs::write(m.etc.join("profile"), "PATH=/usr/bin:/bin\nexport PATH\n").unwrap();
    let out = m.root_ok(&[
        "install",
        "--system",
        "--hf-home",
        hf,
        "--custom-model-dir",
        CUSTOM,
    ]);
    assert!(
        stderr(&out).contains("/etc/profile on this system does not source /etc/profile.d/*.sh"),
        "{}",
        stderr(&out)
    );
    m.root_ok(&["uninstall", "--system"]);
    // Not even a lock file or a `.locks` folder owned by root, which users could not use.
    let in_store: Vec<PathBuf> = common::changed(&before, &m.env.snapshot())
        .into_iter()
        .chain(
            walk_names(&store)
                .into_iter()
                .filter(|p| !p.ends_with("hub")),
        )
        .filter(|p| p.starts_with("store") || p.starts_with(&store))
        .collect();
    assert_eq!(in_store, Vec::<PathBuf>::new());
}

/// Every path below `dir`.
fn walk_names(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_names(&p));
        }
        out.push(p);
    }
    out
}

/// Found by attacking install --system: each case, then the machine's state it must leave.
#[test]
fn install_system_keeps_every_shell_on_the_current_store_and_never_loses_an_admins_edit() {
    let Some(m) = machine() else {
        return;
    };
    let second = "/srv/second-hf";
    m.root_ok(&[
        "install",
        "--system",
        "--hf-home",
        HF,
        "--custom-model-dir",
        CUSTOM,
    ]);
    // A later install for bash alone with a new store moves zsh and fish along.
    m.root_ok(&[
        "install",
        "--system",
        "--shell",
        "bash",
        "--hf-home",
        second,
        "--custom-model-dir",
        CUSTOM,
    ]);
    for (shell, flags) in [
        ("zsh", &["-c"][..]),
        ("fish", &["-c"]),
        ("bash", &["-l", "-c"]),
    ] {
        assert_eq!(
            m.fresh(shell, flags, &m.user_home)[0].as_deref(),
            Some(second),
            "{shell} {flags:?}"
        );
    }
    // The admin edits the config install created: uninstall keeps it, and says so.
    let cfg = m.etc.join("modelenv/config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("bin_dir = \"/opt/site/bin\" # ADMIN\n");
    std::fs::write(&cfg, &text).unwrap();
    let out = m.root_ok(&["uninstall", "--system"]);
    assert!(
        stderr(&out).contains("changed since install --system wrote it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), text);
    assert_eq!(m.fresh("zsh", &["-c"], &m.user_home), vec![None; 4]);
}

#[test]
fn install_system_under_a_strict_umask_is_readable_by_every_user() {
    let Some(m) = machine() else {
        return;
    };
    let mut argv = vec![
        "sh",
        "-c",
        "umask 077; exec \"$@\"",
        "sh",
        m.bin.to_str().unwrap(),
    ];
    argv.extend([
        "install",
        "--system",
        "--hf-home",
        HF,
        "--custom-model-dir",
        CUSTOM,
    ]);
    let out = m.run(
        false,
        &[("HOME", &m.root_home), ("SHELL", Path::new("/bin/bash"))],
        &argv,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = std::fs::metadata(m.etc.join("modelenv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    for (shell, flags) in [
        ("zsh", &["-c"][..]),
        ("fish", &["-c"]),
        ("bash", &["-l", "-c"]),
    ] {
        assert_eq!(
            m.fresh(shell, flags, &m.user_home),
            shared(),
            "{shell} {flags:?}"
        );
    }
    // The user's own modelenv reads the system config.
    let out = m.run(
        true,
        &[("HOME", &m.user_home), ("USER", Path::new("nobody"))],
        &[m.bin.to_str().unwrap(), "config", "get", "hf_home"],
    );
    assert_eq!(stdout(&out).trim(), HF, "{}", stderr(&out));
}

#[test]
fn a_store_other_users_cannot_reach_or_a_lost_record_is_said_not_ignored() {
    let Some(m) = machine() else {
        return;
    };
    // A store under a folder only root can search.
    let private = m.root_home.join("private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&m.root_home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let before = m.etc_snapshot();
    let out = m.root(&[
        "install",
        "--system",
        "--hf-home",
        private.join("hf").to_str().unwrap(),
        "--custom-model-dir",
        CUSTOM,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("only its owner can get through"),
        "{}",
        stderr(&out)
    );
    assert_eq!(m.etc_snapshot(), before);
    // A folder open to a group (a lab's store) is the admin's choice: accepted.
    std::fs::set_permissions(&m.root_home, std::fs::Permissions::from_mode(0o750)).unwrap();
    m.root_ok(&[
        "install",
        "--system",
        "--hf-home",
        private.join("hf").to_str().unwrap(),
        "--custom-model-dir",
        CUSTOM,
        "--dry-run",
    ]);
    std::fs::set_permissions(&m.root_home, std::fs::Permissions::from_mode(0o755)).unwrap();

    // The undo record lost (a node image that bakes /etc but not /var/lib): uninstall names
    // the blocks it cannot take out, instead of "nothing to uninstall".
    m.root_ok(&[
        "install",
        "--system",
        "--hf-home",
        HF,
        "--custom-model-dir",
        CUSTOM,
    ]);
    std::fs::remove_dir_all(m.env.tmp.path().join("var/lib/modelenv")).unwrap();
    let out = m.root(&["uninstall", "--system"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("/etc/profile.d/modelenv.sh"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("nothing to uninstall"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_users_shell_the_system_files_leave_out_gets_its_own_block() {
    let Some(m) = machine() else {
        return;
    };
    m.root_ok(&[
        "install",
        "--system",
        "--shell",
        "bash",
        "--hf-home",
        HF,
        "--custom-model-dir",
        CUSTOM,
    ]);
    let home = m.user_home.clone();
    let mut argv = vec![m.bin.to_str().unwrap()];
    argv.extend([
        "install",
        "--no-doctor",
        "--shell",
        "zsh",
        "--shell",
        "bash",
    ]);
    let out = m.run(
        true,
        &[
            ("HOME", &home),
            ("USER", Path::new("nobody")),
            ("SHELL", Path::new("/bin/bash")),
        ],
        &argv,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no system startup file gives zsh the system store"),
        "{}",
        stderr(&out)
    );
    assert_eq!(m.fresh("zsh", &["-c"], &home), shared());
    assert_eq!(m.fresh("bash", &["-l", "-c"], &home), shared());
}
