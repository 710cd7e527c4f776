//! Releases: one naming scheme across the release workflow, scripts/dist.sh, install.sh,
//! `cargo binstall`'s metadata and the Homebrew formula (renaming any one side fails the check);
//! and dist.sh / install.sh packaging what cargo built, wherever CARGO_TARGET_DIR put it.
// Tests build the situations they check on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn write_exe(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn text(o: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

// --- The naming check ------------------------------------------------------------------------

/// What the release workflow says, read with a YAML parser (yaml-rust2, as src/configfile.rs).
struct Workflow {
    targets: Vec<String>,
    build_runs: Vec<String>,
    publish_runs: Vec<String>,
}

fn read_workflow(path: &Path) -> Result<Workflow, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let docs = yaml_rust2::YamlLoader::load_from_str(&text)
        .map_err(|e| format!("the workflow does not parse: {e}"))?;
    let jobs = &docs.first().ok_or("the workflow is empty")?["jobs"];
    let list = |y: &yaml_rust2::Yaml, what: &str| -> Result<Vec<yaml_rust2::Yaml>, String> {
        y.as_vec()
            .cloned()
            .ok_or(format!("the workflow has no {what} list"))
    };
    let runs = |job: &str| -> Result<Vec<String>, String> {
        Ok(list(&jobs[job]["steps"], &format!("jobs.{job}.steps"))?
            .iter()
            .filter_map(|s| s["run"].as_str().map(str::to_owned))
            .collect())
    };
    let targets = list(
        &jobs["build"]["strategy"]["matrix"]["include"],
        "jobs.build.strategy.matrix.include",
    )?
    .iter()
    .map(|e| {
        e["target"]
            .as_str()
            .map(str::to_owned)
            .ok_or(format!("a matrix entry without a target: {e:?}"))
    })
    .collect::<Result<_, _>>()?;
    Ok(Workflow {
        targets,
        build_runs: runs("build")?,
        publish_runs: runs("publish")?,
    })
}

/// The files `scripts/dist.sh OUT --target T --bin STUB` writes for each target, and their
/// bytes (each target's stub binary differs, so each archive does).
fn dist_outputs(root: &Path, targets: &[String], out: &Path) -> Result<(), String> {
    let stubs = tempfile::tempdir().unwrap();
    for t in targets {
        let stub = stubs.path().join(t);
        write_exe(&stub, &format!("#!/bin/sh\necho 'modelenv for {t}'\n"));
        let o = Command::new("sh")
            .arg(root.join("scripts/dist.sh"))
            .arg(out)
            .args(["--target", t, "--bin"])
            .arg(&stub)
            .output()
            .unwrap();
        if !o.status.success() {
            return Err(format!("dist.sh --target {t}: {}", text(&o)));
        }
    }
    Ok(())
}

/// What install.sh does on a machine whose `uname -s`/`uname -m` print `os`/`arch`: the target
/// it detects (from its messages) and the URLs it downloads, with `--version` when given.
/// Run piped (`sh -s`), as `curl | sh` runs it, with a curl that records each URL and serves
/// a dummy archive and a checksum that does not match it (so nothing is installed).
fn install_sh_urls(
    script: &Path,
    os: &str,
    arch: &str,
    version: Option<&str>,
) -> Result<Vec<String>, String> {
    let env = common::TestEnv::new();
    let bin = env.tmp.path().join("stubs");
    fs::create_dir_all(&bin).unwrap();
    let log = env.tmp.path().join("urls");
    write_exe(
        &bin.join("uname"),
        &format!(
            "#!/bin/sh\ncase \"$1\" in -s) echo {os} ;; -m) echo {arch} ;; *) exit 1 ;; esac\n"
        ),
    );
    write_exe(
        &bin.join("curl"),
        &format!(
            r#"#!/bin/sh
url=""; out=""
while [ "$#" -gt 0 ]; do
    case "$1" in -o) out="$2"; shift ;; http*) url="$1" ;; esac
    shift
done
echo "$url" >> '{}'
case "$url" in
    *.sha256) echo "0000000000000000000000000000000000000000000000000000000000000000  x" > "$out" ;;
    *) echo "not an archive" > "$out" ;;
esac
"#,
            log.display()
        ),
    );
    let mut args = vec!["-s", "--", "--no-modify-profile"];
    if let Some(v) = version {
        args.extend(["--version", v]);
    }
    let o = Command::new("dash")
        .args(&args)
        .stdin(fs::File::open(script).unwrap())
        .env_clear()
        .env("HOME", &env.home)
        .env("PATH", format!("{}:{}", bin.display(), common::sys_path()))
        .env("SHELL", "/bin/sh")
        .current_dir(&env.home)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    if o.status.success() || !stderr.contains("checksum mismatch") {
        return Err(format!(
            "install.sh on {os}/{arch} did not reach the checksum check: {}",
            text(&o)
        ));
    }
    Ok(fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect())
}

/// cargo-binstall's template syntax: `{ var }` (spaces optional), `\{`, `\}` and `\\` escapes;
/// an unknown variable is an error, as binstall refuses it.
fn render_binstall(template: &str, vars: &BTreeMap<&str, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or("a lone backslash ends the template")?),
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let name = name.trim();
                out.push_str(
                    vars.get(name)
                        .ok_or(format!("binstall has no template variable {{ {name} }}"))?,
                );
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

struct Binstall {
    repo: String,
    version: String,
    pkg_url: String,
    pkg_fmt: String,
    bin_dir: String,
}

fn read_cargo_toml(path: &Path) -> Result<Binstall, String> {
    let doc: toml_edit::DocumentMut = fs::read_to_string(path).unwrap().parse().unwrap();
    let pkg = &doc["package"];
    let s = |item: &toml_edit::Item, what: &str| {
        item.as_str()
            .map(str::to_owned)
            .ok_or(format!("Cargo.toml has no {what}"))
    };
    let b = &pkg["metadata"]["binstall"];
    Ok(Binstall {
        repo: s(&pkg["repository"], "package.repository")?,
        version: s(&pkg["version"], "package.version")?,
        pkg_url: s(&b["pkg-url"], "package.metadata.binstall.pkg-url")?,
        pkg_fmt: s(&b["pkg-fmt"], "package.metadata.binstall.pkg-fmt")?,
        bin_dir: s(&b["bin-dir"], "package.metadata.binstall.bin-dir")?,
    })
}

fn file_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

/// The whole check on a tree laid out like the repository. Ok when every installer fetches
/// exactly the archives (and checksum files) the release workflow builds and uploads.
fn check_naming(root: &Path) -> Result<(), String> {
    let wf = read_workflow(&root.join(".github/workflows/release.yml"))?;
    let targets: BTreeSet<String> = wf.targets.iter().cloned().collect();
    if targets.len() != wf.targets.len() || targets.is_empty() {
        return Err(format!("the workflow's targets {:?}", wf.targets));
    }
    // The workflow packages each matrix target with dist.sh and uploads what it wrote.
    if !wf
        .build_runs
        .iter()
        .any(|r| r.contains("scripts/dist.sh dist --target \"${{ matrix.target }}\""))
    {
        return Err("the workflow does not package each target with scripts/dist.sh".into());
    }
    let publish = wf.publish_runs.join("\n");
    let uploaded: Vec<&str> = publish
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("dist/*"))
        .collect();
    if !publish.split_whitespace().any(|w| w == "install.sh") {
        return Err("the workflow does not upload install.sh".into());
    }

    // What the release holds: dist.sh's files for every target, if the workflow uploads them.
    let dist = tempfile::tempdir().unwrap();
    dist_outputs(root, &wf.targets, dist.path())?;
    let mut produced = BTreeMap::new();
    for e in fs::read_dir(dist.path()).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        if !uploaded.iter().any(|suffix| name.ends_with(suffix)) {
            return Err(format!(
                "dist.sh writes {name}, which the workflow does not upload"
            ));
        }
        produced.insert(name, fs::read(e.path()).unwrap());
    }

    let cargo = read_cargo_toml(&root.join("Cargo.toml"))?;
    let version_base = format!("{}/releases/download/v{}", cargo.repo, cargo.version);
    let latest_base = format!("{}/releases/latest/download", cargo.repo);

    // install.sh: every machine it recognises maps to a workflow target, and every workflow
    // target is some machine's; for each, it fetches an uploaded archive and its checksum.
    let script = root.join("install.sh");
    let mut detected = BTreeSet::new();
    let mut install_url = BTreeMap::new();
    for os in ["Linux", "Darwin"] {
        for arch in ["x86_64", "amd64", "aarch64", "arm64"] {
            let latest = install_sh_urls(&script, os, arch, None)?;
            let pinned = install_sh_urls(&script, os, arch, Some(&cargo.version))?;
            let [archive, checksum] = &pinned[..] else {
                return Err(format!("install.sh on {os}/{arch} fetched {pinned:?}"));
            };
            let name = file_name(archive);
            let target = wf
                .targets
                .iter()
                .find(|t| name == format!("modelenv-{t}.tar.gz"))
                .ok_or(format!(
                    "install.sh on {os}/{arch} fetches {name}, which no workflow target is packaged as"
                ))?;
            if !produced.contains_key(name) {
                return Err(format!(
                    "install.sh fetches {name}, which dist.sh does not write"
                ));
            }
            if file_name(checksum) != format!("{name}.sha256")
                || !produced.contains_key(file_name(checksum))
            {
                return Err(format!(
                    "install.sh fetches the checksum {checksum}, not the uploaded {name}.sha256"
                ));
            }
            if *archive != format!("{version_base}/{name}") {
                return Err(format!(
                    "install.sh --version {} fetches {archive}, not from {version_base}",
                    cargo.version
                ));
            }
            let want_latest = vec![
                format!("{latest_base}/{name}"),
                format!("{latest_base}/{name}.sha256"),
            ];
            if latest != want_latest {
                return Err(format!(
                    "install.sh fetches {latest:?}, not {want_latest:?}"
                ));
            }
            detected.insert(target.clone());
            install_url.insert(target.clone(), archive.clone());
        }
    }
    if detected != targets {
        return Err(format!(
            "install.sh detects {detected:?}, the workflow builds {targets:?}"
        ));
    }

    // cargo binstall: its rendered URL for each target is install.sh's; the binary is where
    // bin-dir says inside the archive.
    if cargo.pkg_fmt != "tgz" {
        return Err(format!(
            "binstall pkg-fmt {} for .tar.gz archives",
            cargo.pkg_fmt
        ));
    }
    for t in &wf.targets {
        let vars: BTreeMap<&str, String> = [
            ("name", "modelenv".to_owned()),
            ("bin", "modelenv".to_owned()),
            ("version", cargo.version.clone()),
            ("repo", cargo.repo.clone()),
            ("target", t.clone()),
            ("archive-format", "tgz".to_owned()),
            ("archive-suffix", ".tgz".to_owned()),
            ("binary-ext", String::new()),
        ]
        .into();
        let url = render_binstall(&cargo.pkg_url, &vars)?;
        if url != install_url[t] {
            return Err(format!(
                "cargo binstall fetches {url} for {t}, install.sh {}",
                install_url[t]
            ));
        }
        let bin_dir = render_binstall(&cargo.bin_dir, &vars)?;
        let listing = Command::new("tar")
            .arg("-tzf")
            .arg(dist.path().join(file_name(&url)))
            .output()
            .unwrap();
        if !String::from_utf8_lossy(&listing.stdout)
            .lines()
            .any(|l| l.trim_start_matches("./") == bin_dir)
        {
            return Err(format!("binstall's bin-dir {bin_dir} is not in {url}"));
        }
    }

    // Homebrew: one url per target, install.sh's, with the sha256 of the archive it names.
    let o = Command::new("sh")
        .arg(root.join("scripts/brew-formula.sh"))
        .arg(dist.path())
        .output()
        .unwrap();
    if !o.status.success() {
        return Err(format!("brew-formula.sh: {}", text(&o)));
    }
    let formula = String::from_utf8(o.stdout).unwrap();
    let quoted = |line: &str, key: &str| -> Option<String> {
        let rest = line.trim().strip_prefix(key)?.trim();
        Some(rest.strip_prefix('"')?.strip_suffix('"')?.to_owned())
    };
    let lines: Vec<&str> = formula.lines().collect();
    let mut brew_urls = BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(url) = quoted(line, "url ") else {
            continue;
        };
        let sha = lines
            .get(i + 1)
            .and_then(|l| quoted(l, "sha256 "))
            .ok_or(format!("no sha256 after the formula's url {url}"))?;
        let bytes = produced.get(file_name(&url)).ok_or(format!(
            "the formula names {url}, which dist.sh does not write"
        ))?;
        if sha != sha256_hex(bytes) {
            return Err(format!(
                "the formula's sha256 for {url} is not the archive's"
            ));
        }
        brew_urls.insert(url);
    }
    let want: BTreeSet<String> = install_url.values().cloned().collect();
    if brew_urls != want {
        return Err(format!(
            "the formula names {brew_urls:?}, install.sh fetches {want:?}"
        ));
    }
    Ok(())
}

/// A copy of the files the naming check reads, to change one of them.
fn copy_of_sides() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for rel in [
        ".github/workflows/release.yml",
        "install.sh",
        "Cargo.toml",
        "scripts/dist.sh",
        "scripts/brew-formula.sh",
        "README.md",
        "LICENSE",
    ] {
        let to = d.path().join(rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(repo_root().join(rel), to).unwrap();
    }
    let o = Command::new("cp")
        .arg("-R")
        .arg(repo_root().join("completions"))
        .arg(d.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    d
}

#[test]
fn every_installer_names_the_archives_the_release_workflow_builds() {
    common::require("dash");
    check_naming(&repo_root()).unwrap();
}

#[test]
fn renaming_any_one_side_fails_the_naming_check() {
    common::require("dash");
    // (file, text, replacement): each renames what one side builds, fetches or detects.
    let renames = [
        (
            ".github/workflows/release.yml",
            "target: x86_64-apple-darwin",
            "target: x86_64-apple-macos",
        ),
        (
            "scripts/dist.sh",
            "name=\"modelenv-$target.tar.gz\"",
            "name=\"modelenv_$target.tar.gz\"",
        ),
        (
            "install.sh",
            "_name=\"modelenv-$_target.tar.gz\"",
            "_name=\"modelenv-$_target.tgz\"",
        ),
        (
            "install.sh",
            "download \"$_base/$_name.sha256\"",
            "download \"$_base/$_name.sha256sum\"",
        ),
        (
            "install.sh",
            "Darwin) printf '%s-apple-darwin",
            "Darwin) printf '%s-apple-macos",
        ),
        (
            "install.sh",
            "aarch64 | arm64) _arch=aarch64",
            "aarch64 | arm64) _arch=arm64",
        ),
        (
            "install.sh",
            "releases/download/v${_version#v}",
            "releases/download/${_version#v}",
        ),
        (
            "Cargo.toml",
            "{ name }-{ target }.tar.gz",
            "{ name }-v{ version }-{ target }.tar.gz",
        ),
        (
            "Cargo.toml",
            "bin-dir = \"{ bin }{ binary-ext }\"",
            "bin-dir = \"bin/{ bin }\"",
        ),
        (
            "Cargo.toml",
            "repository = \"https://github.com/modelenv/modelenv\"",
            "repository = \"https://github.com/model-env/modelenv\"",
        ),
        (
            "scripts/brew-formula.sh",
            "url \"$base/modelenv-aarch64-unknown-linux-gnu.tar.gz\"",
            "url \"$base/modelenv-arm64-unknown-linux-gnu.tar.gz\"",
        ),
        (
            "scripts/brew-formula.sh",
            "sha_mac_intel=$(checked_sha x86_64-apple-darwin)",
            "sha_mac_intel=$(checked_sha aarch64-apple-darwin)",
        ),
    ];
    for (rel, from, to) in renames {
        let d = copy_of_sides();
        let path = d.path().join(rel);
        let body = fs::read_to_string(&path).unwrap();
        assert_eq!(
            body.matches(from).count(),
            1,
            "{rel} no longer holds `{from}` once: update this test"
        );
        fs::write(&path, body.replace(from, to)).unwrap();
        let got = check_naming(d.path());
        assert!(got.is_err(), "renaming `{from}` in {rel} passed the check");
        eprintln!("{rel}: `{from}` -> `{to}`: {}", got.unwrap_err());
    }
}

#[test]
fn binstall_templates_render_as_binstall_does() {
    let vars: BTreeMap<&str, String> =
        [("name", "m".to_owned()), ("target", "t".to_owned())].into();
    assert_eq!(render_binstall("{ name }-{target}", &vars).unwrap(), "m-t");
    assert_eq!(render_binstall(r"\{ name \}", &vars).unwrap(), "{ name }");
    assert!(render_binstall("{ nope }", &vars).is_err());
}

// --- dist.sh and install.sh package what cargo built -----------------------------------------

/// The release profile made fast for tests (cargo reads these over Cargo.toml's).
const FAST_RELEASE: [(&str, &str); 4] = [
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256"),
    ("CARGO_PROFILE_RELEASE_DEBUG", "false"),
];

fn host() -> String {
    let o = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .unwrap()
}

/// A copy of the source checkout with a stale `modelenv` in its ./target where the old
/// dist.sh and install.sh took it from, and one fresh CARGO_TARGET_DIR shared by the tests
/// (cargo builds once; both scripts build the same static release binary).
struct Checkout {
    _tmp: tempfile::TempDir,
    src: PathBuf,
    target_dir: PathBuf,
    stale: Vec<u8>,
}

fn checkout() -> &'static Checkout {
    static C: OnceLock<Checkout> = OnceLock::new();
    C.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src-checkout");
        // Every file git would commit (tracked, or new and not ignored), as they are now.
        let o = Command::new("git")
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .current_dir(repo_root())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        for rel in o.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let rel = Path::new(std::str::from_utf8(rel).unwrap());
            let from = repo_root().join(rel);
            if !from.is_file() {
                continue; // deleted in the work tree
            }
            fs::create_dir_all(src.join(rel).parent().unwrap()).unwrap();
            fs::copy(&from, src.join(rel)).unwrap();
        }
        let stale = b"#!/bin/sh\necho stale binary from an old build\n".to_vec();
        let old = src.join("target").join(host()).join("release");
        fs::create_dir_all(&old).unwrap();
        fs::write(old.join("modelenv"), &stale).unwrap();
        fs::set_permissions(old.join("modelenv"), fs::Permissions::from_mode(0o755)).unwrap();
        let target_dir = tmp.path().join("cargo-target");
        Checkout {
            _tmp: tmp,
            src,
            target_dir,
            stale,
        }
    })
}

/// A command with a clean environment that has cargo (the toolchain running these tests),
/// CARGO_TARGET_DIR set to the fresh folder and the fast release profile.
fn with_cargo(program: &str, home: &Path) -> Command {
    let c = checkout();
    let cargo = PathBuf::from(std::env::var("CARGO").unwrap());
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("HOME", home)
        .env(
            "PATH",
            format!(
                "{}:{}",
                cargo.parent().unwrap().display(),
                common::sys_path()
            ),
        )
        .env("CARGO_TARGET_DIR", &c.target_dir)
        .envs(FAST_RELEASE)
        .stdin(Stdio::null());
    for k in ["CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Ok(v) = std::env::var(k) {
            cmd.env(k, v);
        }
    }
    if std::env::var("CARGO_HOME").is_err() {
        // cargo's registry cache: the user's, so the build needs no download.
        cmd.env("CARGO_HOME", dirs::home_dir().unwrap().join(".cargo"));
    }
    cmd
}

fn built_binary() -> Vec<u8> {
    let c = checkout();
    fs::read(c.target_dir.join(host()).join("release/modelenv")).unwrap()
}

#[test]
fn dist_packages_the_fresh_build_from_cargo_target_dir_not_a_stale_target() {
    let c = checkout();
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    let o = with_cargo("sh", home.path())
        .arg(c.src.join("scripts/dist.sh"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let archive = out.join(format!("modelenv-{}.tar.gz", host()));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        archive.display().to_string()
    );
    let x = home.path().join("x");
    fs::create_dir_all(&x).unwrap();
    let t = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&x)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", text(&t));
    let packaged = fs::read(x.join("modelenv")).unwrap();
    assert_ne!(
        packaged, c.stale,
        "dist.sh packaged the stale ./target binary"
    );
    assert_eq!(
        packaged,
        built_binary(),
        "dist.sh did not package cargo's build"
    );
    if host().ends_with("-linux-gnu") {
        // Static, as released: no dynamic loader, any glibc.
        let l = Command::new("ldd")
            .arg(x.join("modelenv"))
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&l.stdout),
            String::from_utf8_lossy(&l.stderr)
        );
        assert!(
            said.contains("statically linked") || said.contains("not a dynamic executable"),
            "ldd: {said}"
        );
    }
    let v = Command::new(x.join("modelenv"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&v.stdout).starts_with("modelenv "),
        "{}",
        text(&v)
    );
    // The checksum file names the archive's real sha256.
    let sums = fs::read_to_string(out.join(format!("modelenv-{}.tar.gz.sha256", host()))).unwrap();
    assert_eq!(
        sums.split_whitespace().next().unwrap(),
        sha256_hex(&fs::read(&archive).unwrap())
    );
}

#[test]
fn dist_refuses_a_target_it_cannot_build_here() {
    let host = host();
    let foreign = if host.ends_with("-apple-darwin") {
        "x86_64-unknown-linux-gnu"
    } else {
        "aarch64-apple-darwin"
    };
    let out = tempfile::tempdir().unwrap();
    let o = Command::new("sh")
        .arg(repo_root().join("scripts/dist.sh"))
        .arg(out.path())
        .args(["--target", foreign])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("cannot build {foreign}")), "{err}");
    assert!(err.contains("--bin"), "{err}");
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn install_sh_from_a_checkout_installs_cargo_target_dirs_build_and_says_how_to_reach_it() {
    let c = checkout();
    let home = tempfile::tempdir().unwrap();
    let o = with_cargo("sh", home.path())
        .arg(c.src.join("install.sh"))
        .args(["--no-modify-profile"])
        .env("SHELL", "/bin/bash")
        .env("USER", "tester")
        .current_dir(&c.src)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("cannot"), "{err}");
    let installed = home.path().join(".local/bin/modelenv");
    assert_eq!(fs::read(&installed).unwrap(), built_binary());
    // The last line is the command that makes this shell find modelenv.
    let stdout = String::from_utf8_lossy(&o.stdout);
    let cmd = stdout.lines().last().unwrap();
    let b = Command::new("bash")
        .args(["-c", &format!("{cmd}\ncommand -v modelenv")])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", common::sys_path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&b.stdout).trim(),
        installed.display().to_string(),
        "{cmd}: {}",
        text(&b)
    );
}

#[test]
fn after_install_sh_from_a_checkout_every_fresh_shell_finds_modelenv() {
    for s in ["bash", "zsh", "fish"] {
        common::require(s);
    }
    let c = checkout();
    let home = tempfile::tempdir().unwrap();
    let o = with_cargo("sh", home.path())
        .arg(c.src.join("install.sh"))
        .args(["--shell", "bash", "--shell", "zsh", "--shell", "fish"])
        .env("SHELL", "/bin/bash")
        .env("USER", "tester")
        .current_dir(&c.src)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let installed = home.path().join(".local/bin/modelenv");
    assert_eq!(fs::read(&installed).unwrap(), built_binary());
    for (shell, flags) in [
        ("bash", "-lc"),
        ("bash", "-ic"),
        ("zsh", "-c"),
        ("zsh", "-lic"),
        ("fish", "-c"),
    ] {
        let found = Command::new(shell)
            .args([flags, "command -v modelenv"])
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", common::sys_path())
            .env("TERM", "dumb")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&found.stdout).trim(),
            installed.display().to_string(),
            "{shell} {flags}: {}",
            text(&found)
        );
    }
}

#[test]
fn install_sh_from_a_checkout_without_rust_says_to_install_it_with_rustup() {
    if which::which_in("cargo", Some(common::sys_path()), "/").is_ok() {
        return; // this machine has a system cargo on the plain PATH
    }
    let c = checkout();
    let home = tempfile::tempdir().unwrap();
    let o = Command::new("sh")
        .arg(c.src.join("install.sh"))
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", common::sys_path())
        .env("SHELL", "/bin/bash")
        .current_dir(&c.src)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("rustup"), "{err}");
    assert_eq!(fs::read_dir(home.path()).unwrap().count(), 0, "{err}");
}

#[test]
fn dist_names_the_rustup_command_for_a_missing_standard_library() {
    let host = host();
    // The same operating system, another processor.
    let other = if host.starts_with("x86_64-") {
        host.replacen("x86_64-", "aarch64-", 1)
    } else {
        host.replacen("aarch64-", "x86_64-", 1)
    };
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let lib = PathBuf::from(String::from_utf8(sysroot.stdout).unwrap().trim())
        .join("lib/rustlib")
        .join(&other);
    if lib.exists() {
        return; // installed here: dist.sh would build it
    }
    let out = tempfile::tempdir().unwrap();
    let o = Command::new("sh")
        .arg(repo_root().join("scripts/dist.sh"))
        .arg(out.path())
        .args(["--target", &other])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("rustup target add {other}")), "{err}");
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
}

/// The formula is Ruby that parses (`ruby -c`), and a formula missing an `end` does not.
#[test]
fn the_formula_is_ruby_that_parses() {
    common::require("ruby");
    let wf = read_workflow(&repo_root().join(".github/workflows/release.yml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    dist_outputs(&repo_root(), &wf.targets, &dir.path().join("dist")).unwrap();
    let o = Command::new("sh")
        .arg(repo_root().join("scripts/brew-formula.sh"))
        .arg(dir.path().join("dist"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let formula = String::from_utf8(o.stdout).unwrap();
    let ruby_c = |body: &str| {
        let f = dir.path().join("modelenv.rb");
        fs::write(&f, body).unwrap();
        Command::new("ruby").arg("-c").arg(&f).output().unwrap()
    };
    let ok = ruby_c(&formula);
    assert!(ok.status.success(), "{}\n{formula}", text(&ok));
    let broken = formula.replacen("    end\n", "", 1);
    assert!(
        !ruby_c(&broken).status.success(),
        "ruby -c accepted {broken}"
    );
}
