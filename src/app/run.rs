//! Opening the studio window: wgpu first, glow where wgpu finds no adapter.

use super::{StudioApp, StudioConfig};

pub const WINDOW_SIZE: [f32; 2] = [1100.0, 760.0];

pub fn run(make_config: impl Fn() -> StudioConfig) -> anyhow::Result<()> {
    let attempt = |renderer: eframe::Renderer| {
        let config = make_config();
        let options = eframe::NativeOptions {
            renderer,
            viewport: egui::ViewportBuilder::default()
                .with_title("Storybook Studio")
                .with_inner_size(WINDOW_SIZE)
                .with_min_inner_size([640.0, 480.0])
                .with_drag_and_drop(true),
            ..Default::default()
        };
        eframe::run_native(
            "Storybook Studio",
            options,
            Box::new(move |cc| Ok(Box::new(StudioApp::new(cc, config)))),
        )
    };
    match attempt(eframe::Renderer::Wgpu) {
        Ok(()) => Ok(()),
        // The event loop itself could not start: there is no display to open a window on, and
        // winit cannot start another loop in this process, so OpenGL would fail the same way.
        Err(eframe::Error::WinitEventLoop(e)) => Err(no_display(&e.to_string())),
        Err(wgpu_err) => {
            eprintln!("warning: the wgpu renderer could not start ({wgpu_err}); trying OpenGL");
            attempt(eframe::Renderer::Glow).map_err(|e| {
                anyhow::anyhow!("the studio window could not open: {e} (wgpu: {wgpu_err})")
            })
        }
    }
}

/// The sentence for a machine without a display, with winit's reason but not the source path
/// it starts with (`os error at ~/.cargo/registry/…/mod.rs:765: neither … DISPLAY is set.`).
fn no_display(reason: &str) -> anyhow::Error {
    let reason = reason
        .rsplit(": ")
        .next()
        .unwrap_or(reason)
        .trim_end_matches('.');
    anyhow::anyhow!(
        "no display found; the CLI commands work without one: storybook-studio --help ({reason})"
    )
}
