//! Store integrity: links in the central stores whose target is gone (dangling links).

use crate::settings::Settings;

use super::{Check, Status};

/// Links in the central stores whose target is gone, such as a model archived to a drive that
/// is not plugged in.
pub(super) fn checks(settings: &Settings) -> Vec<Check> {
    let mut out = Vec::new();
    for dir in [settings.hub_cache(), settings.custom_model_dir.clone()] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_symlink()) && !p.exists() {
                let target = std::fs::read_link(&p).unwrap_or_default();
                let name = e.file_name().to_string_lossy().into_owned();
                out.push(
                    Check::new(format!("integrity.{name}"), Status::Warn, format!("{name} points to {}, which is missing (an archive drive not plugged in?)", target.display()))
                        .hint("plug the drive in, or `modelenv models restore` once it is back")
                        .path(&p),
                );
            }
        }
    }
    if out.is_empty() {
        out.push(Check::new(
            "integrity",
            Status::Pass,
            "no link in the stores points nowhere",
        ));
    }
    out
}
