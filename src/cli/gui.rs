//! `storybook-studio` (or `storybook-studio gui`): the studio window.

use std::path::PathBuf;

use super::GlobalArgs;
use crate::app::state::Tab;
use crate::app::{bench_run, screenshot, StudioConfig};

#[derive(Debug, Default, clap::Args)]
pub struct GuiArgs {
    /// Render FRAMES frames, save the window as a PNG here, and quit (for smoke tests). It
    /// waits for the work started with the window (such as --open-book) before the shot.
    #[arg(long, value_name = "PATH")]
    pub screenshot: Option<PathBuf>,
    #[arg(long, default_value_t = 10, requires = "screenshot")]
    pub frames: u64,
    /// Start from default settings instead of the remembered ones (the book in progress kept
    /// beside the library still comes back).
    #[arg(long)]
    pub fresh: bool,
    /// Open this library book (`library list` shows the ids); asks first if the book in
    /// progress has unsaved edits.
    #[arg(long, value_name = "ID")]
    pub open_book: Option<i64>,
    /// Start on this tab: write, illustrate, read, words, library, models or settings.
    #[arg(long, value_name = "NAME", value_parser = parse_tab)]
    pub tab: Option<Tab>,
    /// Illustrate TEXT with the Draft preset, print seconds per step as JSON, and quit
    /// (bench/studio_vs_cli.sh).
    #[arg(long, value_name = "TEXT", hide = true)]
    pub bench_draft: Option<String>,
}

fn parse_tab(name: &str) -> Result<Tab, String> {
    Tab::from_name(&name.to_lowercase()).ok_or_else(|| {
        let names: Vec<&str> = Tab::ALL.iter().map(|t| t.name()).collect();
        format!(
            "there is no tab {name:?}; choose one of {}",
            names.join(", ")
        )
    })
}

pub fn run(global: &GlobalArgs, args: GuiArgs) -> anyhow::Result<()> {
    let engine_override = engine_from_flags(global);
    crate::app::run::run(|| StudioConfig {
        engine: engine_override.clone(),
        fresh_state: args.fresh,
        screenshot: args
            .screenshot
            .clone()
            .map(|p| screenshot::Plan::new(p, args.frames)),
        open_book: args.open_book,
        tab: args.tab.or(args.open_book.map(|_| Tab::Read)),
        bench: args.bench_draft.clone().map(bench_run::Plan::new),
        ..StudioConfig::default()
    })
}

/// Flags given on the command line override what the studio remembers.
fn engine_from_flags(global: &GlobalArgs) -> Option<crate::worker::EngineSettings> {
    if global.models.is_none()
        && global.library.is_none()
        && !global.offline
        && global.device == "cpu"
        && global.vqgan_model.is_none()
    {
        return None;
    }
    Some(crate::worker::EngineSettings {
        models_dir: global.models.clone(),
        offline: global.offline,
        vqgan_model: global
            .vqgan_model
            .map(|s| s.name.to_string())
            .unwrap_or_default(),
        device: global.device.clone(),
        library: global.library.clone(),
        ..Default::default()
    })
}
