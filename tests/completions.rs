//! The committed completion files match what the binary generates.
// Tests build the situations they check (hostile ones too) on disk by hand.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;

#[test]
fn committed_completions_are_current() {
    let env = common::TestEnv::new();
    for (shell, file) in [
        ("bash", "modelenv.bash"),
        ("zsh", "_modelenv"),
        ("fish", "modelenv.fish"),
    ] {
        let generated = env.ok(&["completions", shell]).stdout;
        let committed = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(file),
        )
        .unwrap_or_default();
        assert!(
            generated == committed,
            "completions/{file} is stale: run scripts/gen-completions.sh and commit the result"
        );
    }
}
