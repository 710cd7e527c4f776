//! Shared test scaffolding: a temp HOME and repo, the built binary run with a clean
//! environment, real shells started the same way, and byte snapshots of whole trees.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct TestEnv {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub repo: PathBuf,
    pub extra_env: Vec<(String, String)>,
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_modelenv"))
}

/// A PATH that has the system shells and tools but nothing of the user's setup.
pub fn sys_path() -> String {
    "/usr/local/bin:/usr/bin:/bin".to_owned()
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let tmp = tempfile::Builder::new()
            .prefix("modelenv-test-")
            .tempdir()
            .unwrap();
        let home = tmp.path().join("home");
        let repo = tmp.path().join("repo");
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(repo.join(".git")).unwrap();
        TestEnv {
            tmp,
            home,
            repo,
            extra_env: Vec::new(),
        }
    }

    pub fn with_env(mut self, k: &str, v: &str) -> TestEnv {
        self.extra_env.push((k.into(), v.into()));
        self
    }

    /// The modelenv binary with a clean environment, run from the repo.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", sys_path())
            .env("USER", "tester")
            .env("TERM", "dumb")
            .env("SHELL", "/bin/bash")
            // Tests make old files with utimes, which cannot set ctime (one test unsets this).
            .env("MODELENV_TEST_MTIME_AGE", "1")
            // Never this machine's /etc/modelenv: the system config is the test's own.
            .env(
                "MODELENV_SYSTEM_CONFIG",
                self.tmp.path().join("etc/modelenv/config.toml"),
            )
            // Nor its /var/lib/modelenv (install --system's undo record).
            .env(
                "MODELENV_SYSTEM_STATE",
                self.tmp.path().join("var/lib/modelenv"),
            )
            .current_dir(&self.repo);
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs modelenv and insists it succeeded.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "modelenv {args:?} failed: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts a real shell as a user's terminal would: clean environment, temp HOME.
    pub fn shell(&self, shell: &str, flags: &[&str], script: &str) -> Output {
        let mut c = Command::new(shell);
        c.args(flags)
            .arg(script)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", sys_path())
            .env("USER", "tester")
            .env("TERM", "dumb")
            .current_dir(&self.home)
            .stdin(std::process::Stdio::null());
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    /// The value of `var` as a fresh shell started with `flags` sees it (`None` when unset).
    pub fn var_in(&self, shell: &str, flags: &[&str], var: &str) -> Option<Vec<u8>> {
        let script = if shell == "fish" {
            format!("if set -q {var}; printf 'set:%s' \"${var}\"; end")
        } else {
            format!("if [ -n \"${{{var}+x}}\" ]; then printf 'set:%s' \"${var}\"; fi")
        };
        let out = self.shell(shell, flags, &script);
        let stdout = out.stdout;
        let pos = find(&stdout, b"set:")?;
        Some(stdout[pos + 4..].to_vec())
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.home.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.home.join(rel)).unwrap()
    }

    /// Every file and link under the temp root: path → content or link target.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Entry> {
        let mut map = BTreeMap::new();
        walk(self.tmp.path(), self.tmp.path(), &mut map);
        map
    }
}

#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Entry {
    File(Vec<u8>, u32),
    Link(PathBuf),
    Dir,
    /// A FIFO, socket or device (never opened: reading a FIFO would block).
    Special(u32),
}

fn walk(root: &Path, dir: &Path, map: &mut BTreeMap<PathBuf, Entry>) {
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().to_path_buf();
        let meta = fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            map.insert(rel, Entry::Link(fs::read_link(&p).unwrap()));
        } else if meta.is_dir() {
            map.insert(rel, Entry::Dir);
            walk(root, &p, map);
        } else if !meta.is_file() {
            map.insert(rel, Entry::Special(meta.permissions().mode()));
        } else {
            map.insert(
                rel,
                Entry::File(fs::read(&p).unwrap(), meta.permissions().mode() & 0o7777),
            );
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The user's files and links in a snapshot: folders and modelenv's own config, state and
/// hash cache left out.
pub fn user_files(snap: &BTreeMap<PathBuf, Entry>) -> BTreeMap<PathBuf, Entry> {
    snap.iter()
        .filter(|(p, e)| {
            let s = p.to_string_lossy();
            **e != Entry::Dir
                && !s.contains(".config/modelenv/")
                && !s.contains(".local/state/modelenv/")
                && !s.contains(".cache/modelenv/")
        })
        .map(|(p, e)| (p.clone(), e.clone()))
        .collect()
}

/// The shells every test needs; CI installs them, and a missing one is a failure, not a skip.
pub fn require(shell: &str) {
    assert!(
        which::which(shell).is_ok(),
        "{shell} is not installed; .ci/run installs it"
    );
}

/// The Python that has python-dotenv and huggingface_hub (`MODELENV_TEST_PYTHON`, else python3).
pub fn python() -> String {
    std::env::var("MODELENV_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}
pub mod fixtures;

/// The paths whose entries differ between two snapshots (for short failure messages).
/// modelenv's lock files (an empty file per store, see the README) are not changes.
pub fn changed(a: &BTreeMap<PathBuf, Entry>, b: &BTreeMap<PathBuf, Entry>) -> Vec<PathBuf> {
    let lock = |k: &PathBuf| {
        k.file_name()
            .is_some_and(|n| n == "modelenv.lock" || n == ".modelenv.lock")
            || k.ends_with(".locks")
    };
    a.keys()
        .chain(b.keys())
        .filter(|k| !lock(k))
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Whether the process was ended by SIGKILL (the `MODELENV_TEST_KILL_AFTER` hook).
#[allow(dead_code)]
pub fn killed(out: &std::process::Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(9)
}

impl TestEnv {
    /// The user's files that differ from `before` (modelenv's own config and state, folders
    /// and lock files left out): what a refusal must leave empty.
    pub fn user_changes(&self, before: &BTreeMap<PathBuf, Entry>) -> Vec<PathBuf> {
        changed(&user_files(before), &user_files(&self.snapshot()))
    }
}

/// Holds an exclusive `flock` on `lock` with util-linux `flock` for `secs` seconds; returns once
/// it is held. The command run under the lock does not inherit it (`--close`), so killing the
/// returned child releases it.
pub fn hold_flock(lock: &Path, secs: &str) -> std::process::Child {
    let mut c = Command::new("flock")
        .args(["--nonblock", "--close"])
        .arg(lock)
        .args(["sh", "-c"])
        .arg(format!("echo held; exec sleep {secs}"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("flock (util-linux) is installed by scripts/test.sh");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(c.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "held", "flock did not take {}", lock.display());
    c
}

/// What the real huggingface_hub's `try_to_load_from_cache` returns for `repo`/`file` in the
/// hub cache `hub`: the file's bytes, or `None` when it is not cached.
pub fn load_from_cache(env: &TestEnv, hub: &Path, repo: &str, file: &str) -> Option<Vec<u8>> {
    let out = Command::new(python())
        .args([
            "-c",
            "import sys\nfrom huggingface_hub import try_to_load_from_cache as t\np = t(sys.argv[1], sys.argv[2], cache_dir=sys.argv[3])\nsys.stdout.buffer.write(open(p, 'rb').read() if isinstance(p, str) else b'')",
            repo,
            file,
        ])
        .arg(hub)
        .env_clear()
        .env("HOME", &env.home)
        .env("PATH", sys_path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    (!out.stdout.is_empty()).then_some(out.stdout)
}
