//! `storybook-studio` (or `storybook-studio gui`): the studio window.

use std::path::PathBuf;

use super::GlobalArgs;
use crate::app::{screenshot, StudioConfig};

#[derive(Debug, Default, clap::Args)]
pub struct GuiArgs {
    /// Render FRAMES frames, save the window as a PNG here, and quit (for smoke tests).
    #[arg(long, value_name = "PATH")]
    pub screenshot: Option<PathBuf>,
    #[arg(long, default_value_t = 10, requires = "screenshot")]
    pub frames: u64,
    /// Start from default settings instead of the remembered ones.
    #[arg(long)]
    pub fresh: bool,
}

pub fn run(global: &GlobalArgs, args: GuiArgs) -> anyhow::Result<()> {
    let engine_override = engine_from_flags(global);
    let fresh = args.fresh || args.screenshot.is_some();
    crate::app::run::run(|| StudioConfig {
        engine: engine_override.clone(),
        fresh_state: fresh,
        screenshot: args
            .screenshot
            .clone()
            .map(|p| screenshot::Plan::new(p, args.frames)),
        ..StudioConfig::default()
    })
}

/// Flags given on the command line override what the studio remembers.
fn engine_from_flags(global: &GlobalArgs) -> Option<crate::worker::EngineSettings> {
    if global.models.is_none()
        && global.library.is_none()
        && !global.offline
        && global.device == "cpu"
    {
        return None;
    }
    Some(crate::worker::EngineSettings {
        models_dir: global.models.clone(),
        offline: global.offline,
        device: global.device.clone(),
        library: global.library.clone(),
        ..Default::default()
    })
}
