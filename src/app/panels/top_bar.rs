//! The tab bar: it wraps onto more lines in a narrow window rather than hiding tabs, and says
//! what the engine is doing with a still marker (a spinner would repaint every frame).

use super::super::actions::Action;
use super::super::state::Tab;

pub fn top_bar_ui(
    ui: &mut egui::Ui,
    current: Tab,
    busy: Option<String>,
    unsaved: bool,
) -> Vec<Action> {
    let mut actions = Vec::new();
    ui.horizontal_wrapped(|ui| {
        for tab in Tab::ALL {
            if ui.selectable_label(current == tab, tab.label()).clicked() {
                actions.push(Action::SwitchTab(tab));
            }
        }
        ui.separator();
        if let Some(text) = busy {
            ui.label(format!("• {text}"));
        }
        if unsaved {
            ui.weak("Unsaved edits")
                .on_hover_text("The book in progress has edits not saved to the library yet.");
        }
    });
    actions
}
