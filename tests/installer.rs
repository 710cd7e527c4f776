//! install.sh, served from a local HTTP server on 127.0.0.1 with `scripts/dist.sh` output,
//! run as `cat install.sh | dash` with a temp HOME.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::TestEnv;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One dist folder for all tests: the test binary packaged by scripts/dist.sh.
fn dist() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let out = Command::new("sh")
            .arg(repo_root().join("scripts/dist.sh"))
            .arg(d.path())
            .arg("--bin")
            .arg(common::bin())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dist.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        d
    })
    .path()
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the test server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// `cat install.sh | dash` with the script (or a prefix of it) on stdin.
fn run_installer(
    env: &TestEnv,
    script: &[u8],
    url: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> Output {
    pipe_to(env, &["dash"], script, &[], url, path, extra)
}

/// `cat install.sh | INTERP [-s -- ARGS]`: the script on stdin, a clean environment, the temp HOME.
fn pipe_to(
    env: &TestEnv,
    interp: &[&str],
    script: &[u8],
    args: &[&str],
    url: &str,
    path: &str,
    extra: &[(&str, &str)],
) -> Output {
    let file = env.tmp.path().join("piped-install.sh");
    fs::write(&file, script).unwrap();
    let mut c = Command::new(interp[0]);
    c.args(&interp[1..]);
    if !args.is_empty() {
        c.arg("--").args(args);
    }
    c.stdin(fs::File::open(&file).unwrap())
        .env_clear()
        .env("HOME", &env.home)
        .env("PATH", path)
        .env("USER", "tester")
        .env("SHELL", "/bin/bash")
        .env("TERM", "dumb")
        .env("MODELENV_DIST_URL", url)
        .current_dir(&env.home);
    for (k, v) in extra {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn script() -> Vec<u8> {
    fs::read(repo_root().join("install.sh")).unwrap()
}

fn nothing_installed(env: &TestEnv) {
    let entries: Vec<_> = fs::read_dir(&env.home)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(entries.is_empty(), "the installer left {entries:?} in HOME");
}

#[test]
fn piped_to_dash_it_installs_the_binary_and_the_profile_block() {
    let server = serve(dist());
    let env = TestEnv::new();
    let out = run_installer(&env, &script(), &server.url, &common::sys_path(), &[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let bin = env.home.join(".local/bin/modelenv");
    assert!(bin.is_file());
    assert!(
        common::stderr(&out).contains("not on this shell's PATH"),
        "{}",
        common::stderr(&out)
    );
    let got = env
        .var_in("bash", &["-lc"], "HF_HOME")
        .map(|b| String::from_utf8(b).unwrap());
    assert_eq!(
        got,
        Some(env.home.join(".cache/huggingface").display().to_string())
    );
}

#[test]
fn every_truncated_prefix_installs_nothing() {
    let server = serve(dist());
    let env = TestEnv::new();
    let full = script();
    // Every cut point, including the middle of the last lines.
    let body_end = full.iter().rposition(|b| !b.is_ascii_whitespace()).unwrap() + 1;
    for n in 0..body_end {
        let out = run_installer(&env, &full[..n], &server.url, &common::sys_path(), &[]);
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("downloading"),
            "prefix of {n} bytes started to install"
        );
    }
    nothing_installed(&env);
}

#[test]
fn a_tampered_archive_is_refused() {
    let tampered = tempfile::tempdir().unwrap();
    for e in fs::read_dir(dist()).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), tampered.path().join(e.file_name())).unwrap();
    }
    let archive = fs::read_dir(tampered.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .unwrap();
    let mut bytes = fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    fs::write(&archive, bytes).unwrap();
    let server = serve(tampered.path());
    let env = TestEnv::new();
    let out = run_installer(&env, &script(), &server.url, &common::sys_path(), &[]);
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("checksum mismatch"),
        "{}",
        common::stderr(&out)
    );
    nothing_installed(&env);
}

/// A folder of links to every tool in /usr/bin and /bin except `without`.
fn path_without(env: &TestEnv, name: &str, without: &[&str]) -> PathBuf {
    let bin = env.tmp.path().join(name);
    fs::create_dir_all(&bin).unwrap();
    for dir in ["/usr/bin", "/bin"] {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let n = e.file_name();
            if without.iter().any(|w| n == *w) || bin.join(&n).exists() {
                continue;
            }
            std::os::unix::fs::symlink(e.path(), bin.join(&n)).unwrap();
        }
    }
    bin
}

#[test]
fn wget_is_used_when_curl_is_missing() {
    let server = serve(dist());
    let env = TestEnv::new();
    // The usual tools but no curl, and a wget that leaves a trace.
    let bin = path_without(&env, "nocurl", &["curl", "wget"]);
    let trace = env.tmp.path().join("wget-called");
    fs::write(
        bin.join("wget"),
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\nexec /usr/bin/wget \"$@\"\n",
            trace.display()
        ),
    )
    .unwrap();
    fs::set_permissions(
        bin.join("wget"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = run_installer(
        &env,
        &script(),
        &server.url,
        &bin.display().to_string(),
        &[],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(env.home.join(".local/bin/modelenv").is_file());
    assert!(fs::read_to_string(&trace).unwrap().contains(".tar.gz"));
}

#[test]
fn shasum_is_used_without_sha256sum_and_neither_means_refusal() {
    let server = serve(dist());
    let env = TestEnv::new();
    let bin = path_without(&env, "noshasum", &["sha256sum"]);
    let out = run_installer(
        &env,
        &script(),
        &server.url,
        &bin.display().to_string(),
        &[],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(env.home.join(".local/bin/modelenv").is_file());

    let env2 = TestEnv::new();
    let bin = path_without(&env2, "nohash", &["sha256sum", "shasum"]);
    let out = run_installer(
        &env2,
        &script(),
        &server.url,
        &bin.display().to_string(),
        &[],
    );
    assert!(!out.status.success());
    assert!(
        common::stderr(&out).contains("neither sha256sum nor shasum"),
        "{}",
        common::stderr(&out)
    );
    nothing_installed(&env2);
}

#[test]
fn options_pass_through_and_sudo_is_refused() {
    let server = serve(dist());
    let env = TestEnv::new();
    let to = env.tmp.path().join("bin");
    let mut s = script();
    // `sh -s -- ARGS` is how arguments reach a piped script.
    let path = format!("{}:{}", to.display(), common::sys_path());
    let args = [
        "--to",
        to.to_str().unwrap(),
        "--shell",
        "zsh",
        "--no-modify-profile",
        "-y",
    ];
    let out = pipe_to(&env, &["dash", "-s"], &s, &args, &server.url, &path, &[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert!(to.join("modelenv").is_file());
    assert!(
        !env.home.join(".zshenv").exists(),
        "--no-modify-profile was not passed through"
    );
    assert!(!common::stderr(&out).contains("not on"));

    let env2 = TestEnv::new();
    s.extend_from_slice(b"\n");
    let out = run_installer(
        &env2,
        &s,
        &server.url,
        &common::sys_path(),
        &[("SUDO_USER", "alice")],
    );
    if unsafe { libc::geteuid() } == 0 {
        assert!(!out.status.success());
        assert!(
            common::stderr(&out).contains("sudo"),
            "{}",
            common::stderr(&out)
        );
        nothing_installed(&env2);
    }
}

#[test]
fn it_runs_under_bash_zsh_sh_mode_and_busybox_ash() {
    let server = serve(dist());
    for shell in [
        &["bash", "-s"][..],
        &["zsh", "--emulate", "sh", "-s"],
        &["busybox", "ash", "-s"],
    ] {
        common::require(shell[0]);
        let env = TestEnv::new();
        let out = pipe_to(
            &env,
            shell,
            &script(),
            &["--no-modify-profile"],
            &server.url,
            &common::sys_path(),
            &[],
        );
        assert!(out.status.success(), "{shell:?}: {}", common::stderr(&out));
        assert!(env.home.join(".local/bin/modelenv").is_file(), "{shell:?}");
    }
}

/// The last line of stdout, run in the user's shell ($SHELL) with the PATH it had, makes that
/// shell find `modelenv`: for the default folder and a `--to` folder with a space and quotes.
#[test]
fn it_ends_with_the_one_command_that_puts_modelenv_on_this_shells_path() {
    let server = serve(dist());
    for shell in ["bash", "zsh", "dash", "fish"] {
        common::require(shell);
        let shell_path = which::which(shell).unwrap();
        // --to: none, an absolute folder with a quote, double quotes and a `$`, a relative one.
        for to in [None, Some("abs"), Some("rel")] {
            let env = TestEnv::new();
            let dir = match to {
                None => None,
                Some("abs") => Some(env.tmp.path().join("it's a \"bin\" $HOME")),
                _ => Some(PathBuf::from("rel bin")),
            };
            let mut args = vec!["--no-modify-profile"];
            if shell == "dash" {
                // modelenv configures bash, zsh and fish; a dash user names one.
                args.extend(["--shell", "bash"]);
            }
            if let Some(d) = &dir {
                args.extend(["--to", d.to_str().unwrap()]);
            }
            let out = pipe_to(
                &env,
                &["dash", "-s"],
                &script(),
                &args,
                &server.url,
                &common::sys_path(),
                &[("SHELL", shell_path.to_str().unwrap())],
            );
            assert!(out.status.success(), "{shell}: {}", common::stderr(&out));
            let stdout = common::stdout(&out);
            let cmd = stdout.lines().last().unwrap();
            // pipe_to runs the installer in HOME: a relative --to is beneath it.
            let want = env
                .home
                .join(dir.unwrap_or_else(|| PathBuf::from(".local/bin")))
                .join("modelenv");
            let found = Command::new(&shell_path)
                .arg("-c")
                .arg(format!("{cmd}\ncommand -v modelenv"))
                .env_clear()
                .env("HOME", &env.home)
                .env("PATH", common::sys_path())
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&found.stdout).trim(),
                want.display().to_string(),
                "{shell} ran `{cmd}`: {}",
                common::stderr(&found)
            );
        }
    }
}
