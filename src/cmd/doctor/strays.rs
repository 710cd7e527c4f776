//! Stray folders in the hub cache: folders no library loads a model from (an
//! `mlx_lm.convert --mlx-path` output, a `--local-dir` download pointed into the cache).

use crate::settings::Settings;

use super::{Check, Status};

/// One warning per stray folder in the central hub cache, with the command that moves it.
pub(super) fn checks(settings: &Settings) -> Vec<Check> {
    let hub = settings.hub_cache();
    let strays = crate::stores::hub::stray_folders(&hub);
    if strays.is_empty() {
        return vec![Check::new(
            "hub.strays",
            Status::Pass,
            "every folder in the hub cache is in the hub layout",
        )];
    }
    strays
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Check::new(
                format!("hub.strays.{name}"),
                Status::Warn,
                format!(
                    "{name} in the hub cache is not in the hub layout: no library finds a model in it, and `scan_cache_dir` calls it invalid"
                ),
            )
            .hint(format!(
                "move it to CUSTOM_MODEL_DIR, keeping its name: modelenv migrate --stray {} --apply",
                crate::shell::quote_posix(&p.display().to_string())
            ))
            .path(p)
        })
        .collect()
}
