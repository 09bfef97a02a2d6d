//! Illustrate: the pages with their status, a live preview, the similarity curve, progress with
//! ETA, cancel, redo with a new seed, and the illustration settings with draft/final presets.

use super::super::actions::Action;
use super::super::draft::{PageStatus, PageView};
use super::super::presets;
use super::super::state::State;
use super::super::views::{IllustrateView, RunOutcome};

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
    ui.horizontal_wrapped(|ui| {
        if ui.button("Illustrate all pages").clicked() {
            actions.push(Action::IllustrateAll);
        }
        if let Some(page) = view.running {
            if ui
                .button(format!("Pause page {}", page + 1))
                .on_hover_text("Stop and keep its progress; Resume goes on from this step, even after a restart")
                .clicked()
            {
                actions.push(Action::PausePage);
            }
            let queued = pages
                .iter()
                .filter(|p| p.status == PageStatus::Queued)
                .count();
            if queued == 0 {
                if ui.button("Cancel").clicked() {
                    actions.push(Action::Cancel);
                }
            } else {
                if ui
                    .button(format!("Cancel page {}", page + 1))
                    .on_hover_text("Stop this page; the queued pages go on")
                    .clicked()
                {
                    actions.push(Action::CancelPage);
                }
                if ui
                    .button("Cancel all")
                    .on_hover_text(format!("Stop this page and the {queued} queued after it"))
                    .clicked()
                {
                    actions.push(Action::Cancel);
                }
            }
        }
    });
    queue_ui(ui, view);
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
                ui.add(egui::Label::new(format!("Page {}: {}", i + 1, page.sentence)).wrap());
                let mut status = page.status_label();
                if let Some(s) = page.similarity {
                    status.push_str(&format!(" · similarity {s:.3} · seed {}", page.seed));
                }
                ui.add(egui::Label::new(egui::RichText::new(status).weak()).wrap());
                ui.horizontal_wrapped(|ui| page_buttons_ui(ui, i, page, &mut actions));
            });
        });
    }
    actions
}

fn page_buttons_ui(ui: &mut egui::Ui, i: usize, page: &PageView, actions: &mut Vec<Action>) {
    let busy = matches!(page.status, PageStatus::Queued | PageStatus::Running);
    let paused = page
        .resumable()
        .filter(|_| page.png.is_none() || page.is_stale());
    let label = if let Some(c) = paused {
        format!("Resume page {} from step {}", i + 1, c.step)
    } else if page.is_stale() {
        format!("Redraw page {}", i + 1)
    } else {
        format!("Illustrate page {}", i + 1)
    };
    if ui.add_enabled(!busy, egui::Button::new(label)).clicked() {
        actions.push(Action::IllustratePage(i));
    }
    if paused.is_some()
        && ui
            .add_enabled(
                !busy,
                egui::Button::new(format!("Start page {} over", i + 1)),
            )
            .clicked()
    {
        actions.push(Action::StartOver(i));
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
}

/// Overall progress when several pages are queued.
fn queue_ui(ui: &mut egui::Ui, view: &IllustrateView) {
    let total = view.batch.len();
    if total > 1 {
        let done = view.batch_ended.min(total);
        ui.add(
            egui::ProgressBar::new(done as f32 / total as f32)
                .text(format!("queue: {done} of {total} pages finished")),
        );
    }
}

/// The shown page's preview with a caption, its progress and similarity curve; they stay after
/// the page ends, saying how it ended, until another page starts.
fn progress_ui(ui: &mut egui::Ui, view: &IllustrateView) {
    let Some(page) = view.shown else {
        return;
    };
    let outcome = match view.outcome {
        Some(RunOutcome::Running) | None => "drawing",
        Some(RunOutcome::Done) => "done",
        Some(RunOutcome::Cancelled) => "cancelled",
        Some(RunOutcome::Failed) => "failed",
    };
    let preview_ui = |ui: &mut egui::Ui| {
        ui.vertical(|ui| {
            if let Some(t) = &view.preview {
                ui.add(egui::Image::new(t).fit_to_exact_size(egui::vec2(256.0, 256.0)));
                ui.weak(format!(
                    "Preview of page {} at {}/{} ({outcome})",
                    page + 1,
                    view.preview_step,
                    view.iterations
                ));
            }
        });
    };
    let numbers_ui = |ui: &mut egui::Ui| {
        ui.vertical(|ui| {
            let width = ui.available_width().clamp(160.0, 320.0);
            let fraction = view.step as f32 / view.iterations.max(1) as f32;
            let text = match view.outcome {
                Some(RunOutcome::Running) | None => {
                    let eta = view
                        .eta_seconds
                        .map(|s| format!(", about {s:.0} s left"))
                        .unwrap_or_default();
                    format!(
                        "page {}: step {} of {}{eta}",
                        page + 1,
                        view.step,
                        view.iterations
                    )
                }
                _ => format!(
                    "page {}: {outcome} at step {} of {}",
                    page + 1,
                    view.step,
                    view.iterations
                ),
            };
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(width)
                    .text(text),
            );
            egui_plot::Plot::new("similarity")
                .height(160.0)
                .width(width)
                .x_axis_label("step")
                .y_axis_label("similarity")
                .show(ui, |plot| {
                    plot.line(egui_plot::Line::new("similarity", view.curve.clone()));
                });
        });
    };
    if ui.available_width() >= 256.0 + 180.0 {
        ui.horizontal(|ui| {
            preview_ui(ui);
            numbers_ui(ui);
        });
    } else {
        preview_ui(ui);
        numbers_ui(ui);
    }
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
            let mut bf16 = o.precision == crate::worker::Precision::Bf16;
            if ui
                .checkbox(&mut bf16, "bf16 (faster on CPUs with AMX or fast AVX512-BF16)")
                .on_hover_text("CLIP's image tower and the VQGAN decoder's wide layers in bf16: several times faster products on Intel AMX (Xeon Sapphire Rapids and later), products up to about twice as fast where AVX512-BF16 is fast (AMD Zen 4 and later); a picture that differs slightly from f32's. Elsewhere the studio says so and draws in f32.")
                .changed()
            {
                o.precision = if bf16 {
                    crate::worker::Precision::Bf16
                } else {
                    crate::worker::Precision::F32
                };
            }
        });
}

fn keep_style(
    mut preset: crate::worker::IllustrateOptions,
    current: &crate::worker::IllustrateOptions,
) -> crate::worker::IllustrateOptions {
    preset.style_prefix = current.style_prefix.clone();
    preset.style_suffix = current.style_suffix.clone();
    preset.seed = current.seed;
    preset.precision = current.precision;
    preset
}
