//! Any value reaches bash, zsh, fish and POSIX sh (dash) byte for byte, and nothing in it runs.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::fs;
use std::path::Path;

use modelenv::shell::{quote_fish, quote_posix};
use proptest::prelude::*;

use common::{TestEnv, require};

/// Assigns each value in `shell` and has the shell write it back to a file; returns what came back.
fn round_trip(shell: &str, values: &[String], dir: &Path) -> Vec<Vec<u8>> {
    let mut script = String::new();
    for (i, v) in values.iter().enumerate() {
        let out = dir.join(format!("out{i}"));
        let out = out.display();
        if shell == "fish" {
            script.push_str(&format!(
                "set X {}\nprintf '%s' \"$X\" > '{out}'\n",
                quote_fish(v)
            ));
        } else {
            script.push_str(&format!(
                "X={}\nprintf '%s' \"$X\" > '{out}'\n",
                quote_posix(v)
            ));
        }
    }
    let file = dir.join(format!("script.{shell}"));
    fs::write(&file, &script).unwrap();
    let status = std::process::Command::new(shell)
        .arg(&file)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .env("PATH", common::sys_path())
        .status()
        .unwrap();
    assert!(status.success(), "{shell} failed on its script");
    (0..values.len())
        .map(|i| fs::read(dir.join(format!("out{i}"))).unwrap_or_else(|_| b"<missing>".to_vec()))
        .collect()
}

const HOSTILE: &[&str] = &[
    "plain",
    "with space",
    "it's",
    "\"double\"",
    "$HOME",
    "${HOME}",
    "$(touch pwned)",
    "`touch pwned`",
    "back\\slash",
    "trailing\\",
    "\\",
    "'",
    "''",
    "\\'",
    "new\nline",
    "\n",
    "tab\there",
    "ünïcødé ✓ 模型",
    "*?[a]{b,c}~",
    "; touch pwned; #",
    "-n",
    "%s%d",
    "",
];

#[test]
fn hostile_values_survive_every_shell() {
    let values: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    for shell in ["bash", "zsh", "fish", "dash"] {
        require(shell);
        let dir = tempfile::tempdir().unwrap();
        let got = round_trip(shell, &values, dir.path());
        for (v, g) in values.iter().zip(got) {
            assert_eq!(String::from_utf8_lossy(&g), v.as_str(), "{shell}: {v:?}");
        }
        assert!(
            !dir.path().join("pwned").exists(),
            "{shell} executed part of a value"
        );
    }
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        // Any Unicode text except NUL, which no environment variable can hold.
        "[^\u{0}]{0,24}",
        // Dense in the characters shells treat specially.
        "[ '\"$`\\\\\n\t(){};|&*?~#!=a-z/-]{0,24}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_values_round_trip_through_real_shells(values in prop::collection::vec(value(), 1..24)) {
        for shell in ["bash", "zsh", "fish", "dash"] {
            let dir = tempfile::tempdir().unwrap();
            let got = round_trip(shell, &values, dir.path());
            for (v, g) in values.iter().zip(got) {
                prop_assert_eq!(String::from_utf8_lossy(&g).into_owned(), v.clone(), "{} with {:?}", shell, v);
            }
            prop_assert!(!dir.path().join("pwned").exists());
        }
    }
}

/// A location no startup file, `.env` file or config can hold (a newline, which could make a
/// marker line of its own) is refused before anything changes; uninstall is not blocked.
#[test]
fn locations_with_a_line_break_are_refused() {
    let env = TestEnv::new();
    env.write(".zshenv", "export A=1\n");
    let before = env.snapshot();
    for bad in [
        "/data/a\n# <<< modelenv <<<\nb",
        "/data/a\rb",
        "/data/a\u{7}b",
    ] {
        let out = env.run(&["install", "--shell", "zsh", "--no-doctor", "--hf-home", bad]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains("control character"),
            "{}",
            common::stderr(&out)
        );
        assert_eq!(env.snapshot(), before, "{bad:?}");
        let out = env.run(&["config", "set", "hf_home", bad]);
        assert_eq!(out.status.code(), Some(2), "config set {bad:?}");
        assert_eq!(env.snapshot(), before, "config set {bad:?}");
    }
    env.ok(&["uninstall"]);
}

/// A literal `$HOME` in a location is a folder name: the config keeps it as the shells export
/// it, and later commands use that folder, not HOME.
#[test]
fn a_dollar_in_a_location_stays_literal_in_the_config() {
    let env = TestEnv::new();
    let hf = env.home.join("$HOME/hf");
    let hf_s = hf.display().to_string();
    env.ok(&[
        "install",
        "--shell",
        "zsh",
        "--no-doctor",
        "--hf-home",
        &hf_s,
    ]);
    let got = env
        .var_in("zsh", &["-c"], "HF_HOME")
        .map(|b| String::from_utf8(b).unwrap());
    assert_eq!(got.as_deref(), Some(hf_s.as_str()));
    let out = env.ok(&["config", "get", "hf_home"]);
    assert_eq!(common::stdout(&out).trim_end(), hf_s);
}

/// End to end: hostile locations given to install arrive exactly in fresh login shells.
#[test]
fn hostile_locations_arrive_exactly_after_install() {
    for s in ["bash", "zsh", "fish", "dash"] {
        require(s);
    }
    let env = TestEnv::new();
    let under_home = env.home.join("it's a $(touch pwned) `x` \"dir\"\\");
    let outside = Path::new("/tmp/modelenv ünï\tcode/'quoted' $HOME\\");
    let (hf, custom) = (
        under_home.display().to_string(),
        outside.display().to_string(),
    );
    env.ok(&[
        "install",
        "--shell",
        "bash",
        "--shell",
        "zsh",
        "--shell",
        "fish",
        "--no-doctor",
        "--hf-home",
        &hf,
        "--custom-model-dir",
        &custom,
    ]);
    let want = [
        ("HF_HOME", hf.clone()),
        ("TRANSFORMERS_CACHE", format!("{hf}/hub")),
        ("CUSTOM_MODEL_DIR", custom.clone()),
    ];
    for (shell, flags) in [
        ("bash", &["-lc"][..]),
        ("bash", &["-ic"]),
        ("zsh", &["-c"]),
        ("fish", &["-c"]),
        ("dash", &["-lc"]),
    ] {
        for (var, v) in &want {
            let got = env
                .var_in(shell, flags, var)
                .map(|b| String::from_utf8(b).unwrap());
            assert_eq!(
                got.as_deref(),
                Some(v.as_str()),
                "{var} in {shell} {flags:?}"
            );
        }
    }
    assert!(!env.home.join("pwned").exists() && !Path::new("pwned").exists());
    // The same values come out of `init`, evaluated by the shell.
    let init = common::stdout(&env.ok(&["init", "zsh"]));
    let out = env.shell(
        "zsh",
        &["-fc"],
        &format!("{init}\nprintf '%s' \"$CUSTOM_MODEL_DIR\""),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), custom);
}
