//! Illustrate: the pages with their status, a live preview, the similarity curve, progress with
//! ETA, cancel, redo with a new seed, and the illustration settings with draft/final presets.

use super::super::actions::Action;
use super::super::draft::{PageStatus, PageView};
use super::super::presets;
use super::super::state::State;
use super::super::views::IllustrateView;

pub fn illustrate_ui(
    ui: &mut egui::Ui,
    state: &mut State,
    pages: &[PageView],
    view: &IllustrateView,
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.heading("Illustrate");
    settings_ui(ui, state);
    ui.separator();
    if pages.is_empty() {
        ui.label("No pages yet: write a story and pick one in the Write panel.");
        return actions;
    }
    ui.horizontal(|ui| {
        if ui.button("Illustrate all pages").clicked() {
            actions.push(Action::IllustrateAll);
        }
        if view.running.is_some() && ui.button("Cancel").clicked() {
            actions.push(Action::Cancel);
        }
    });
    progress_ui(ui, view);
    ui.separator();
    for (i, page) in pages.iter().enumerate() {
        ui.horizontal(|ui| {
            match &page.texture {
                Some(t) => {
                    ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(64.0, 64.0)));
                }
                None => {
                    ui.add_sized([64.0, 64.0], egui::Label::new("—"));
                }
            }
            ui.vertical(|ui| {
                ui.label(format!("Page {}: {}", i + 1, page.sentence));
                let mut status = page.status.label();
                if let Some(s) = page.similarity {
                    status.push_str(&format!(" · similarity {s:.3} · seed {}", page.seed));
                }
                ui.weak(status);
                ui.horizontal(|ui| {
                    let busy = matches!(page.status, PageStatus::Queued | PageStatus::Running);
                    if ui
                        .add_enabled(
                            !busy,
                            egui::Button::new(format!("Illustrate page {}", i + 1)),
                        )
                        .clicked()
                    {
                        actions.push(Action::IllustratePage(i));
                    }
                    if page.png.is_some()
                        && ui
                            .add_enabled(
                                !busy,
                                egui::Button::new(format!("Redo page {} with a new seed", i + 1)),
                            )
                            .clicked()
                    {
                        actions.push(Action::RedoPage(i));
                    }
                });
            });
        });
    }
    actions
}

fn progress_ui(ui: &mut egui::Ui, view: &IllustrateView) {
    let Some(page) = view.running else {
        if let Some(t) = &view.preview {
            ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(256.0, 256.0)));
        }
        return;
    };
    ui.horizontal(|ui| {
        if let Some(t) = &view.preview {
            ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(256.0, 256.0)));
        }
        ui.vertical(|ui| {
            let fraction = view.step as f32 / view.iterations.max(1) as f32;
            let eta = view
                .eta_seconds
                .map(|s| format!(", about {s:.0} s left"))
                .unwrap_or_default();
            ui.add(egui::ProgressBar::new(fraction).text(format!(
                "page {}: step {} of {}{eta}",
                page + 1,
                view.step,
                view.iterations
            )));
            egui_plot::Plot::new("similarity")
                .height(160.0)
                .width(320.0)
                .x_axis_label("step")
                .y_axis_label("similarity")
                .show(ui, |plot| {
                    plot.line(egui_plot::Line::new("similarity", view.curve.clone()));
                });
        });
    });
}

fn settings_ui(ui: &mut egui::Ui, state: &mut State) {
    egui::CollapsingHeader::new("Illustration settings")
        .default_open(false)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .button("Draft preset")
                    .on_hover_text("128², 8 cutouts, 50 steps")
                    .clicked()
                {
                    state.illustration = keep_style(presets::draft(), &state.illustration);
                }
                if ui
                    .button("Final preset")
                    .on_hover_text("256², 32 cutouts, 200 steps")
                    .clicked()
                {
                    state.illustration = keep_style(presets::final_quality(), &state.illustration);
                }
            });
            let o = &mut state.illustration;
            ui.add(
                egui::Slider::new(&mut o.width, 64..=512)
                    .step_by(16.0)
                    .text("width"),
            );
            ui.add(
                egui::Slider::new(&mut o.height, 64..=512)
                    .step_by(16.0)
                    .text("height"),
            );
            ui.add(egui::Slider::new(&mut o.iterations, 1..=1000).text("iterations"));
            ui.add(egui::Slider::new(&mut o.cutn, 1..=64).text("cutouts"));
            ui.add(egui::Slider::new(&mut o.lr, 0.01..=0.5).text("learning rate"));
            ui.add(egui::Slider::new(&mut o.preview_every, 1..=50).text("preview every N steps"));
            ui.add(egui::Slider::new(&mut o.seed, 0..=9999).text("base seed"));
            ui.checkbox(&mut o.progressive, "Progressive refinement")
                .on_hover_text("Two thirds of the steps at half size, then the latent is upsampled 2× and refined: faster, a slightly different picture");
        });
}

fn keep_style(
    mut preset: crate::worker::IllustrateOptions,
    current: &crate::worker::IllustrateOptions,
) -> crate::worker::IllustrateOptions {
    preset.style_prefix = current.style_prefix.clone();
    preset.style_suffix = current.style_suffix.clone();
    preset.seed = current.seed;
    preset
}
