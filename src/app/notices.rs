//! Errors and messages shown in the window as dismissable notices, never only in a terminal.
//! Each wraps to the window's width with its Dismiss button always in view; the newest three
//! show, older ones fold into "N more"; a notice about a missing model goes once it is found,
//! and a plain message goes by itself after a while.

use crate::worker::ModelKind;

/// How long a message that is not an error stays, in seconds.
const INFO_SECONDS: f64 = 12.0;
/// Notices shown before the rest fold into "N more".
const SHOWN: usize = 3;
/// Lines of one notice before it is cut short (its whole text is on hover).
const MAX_ROWS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKey {
    /// A job found this model missing; cleared once the Models scan finds it.
    Model(ModelKind),
    /// Generate was clicked with no prompt; cleared once one is typed.
    EmptyPrompt,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub id: u64,
    pub text: String,
    pub is_error: bool,
    pub key: Option<NoticeKey>,
    /// When it was shown (egui time in seconds), set on its first frame.
    pub shown_at: Option<f64>,
}

#[derive(Debug, Default)]
pub struct Notices {
    /// Oldest first.
    pub items: Vec<Notice>,
    /// "N more" was opened.
    pub show_all: bool,
    next_id: u64,
}

impl Notices {
    pub fn error(&mut self, text: impl Into<String>) {
        self.push(text.into(), true, None);
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.push(text.into(), false, None);
    }

    /// An error that goes away by itself when `key`'s cause is gone.
    pub fn keyed_error(&mut self, key: NoticeKey, text: impl Into<String>) {
        self.push(text.into(), true, Some(key));
    }

    fn push(&mut self, text: String, is_error: bool, key: Option<NoticeKey>) {
        // The same failure repeated (a queue of pages) is shown once, as the newest.
        self.items.retain(|n| n.text != text);
        self.next_id += 1;
        self.items.push(Notice {
            id: self.next_id,
            text,
            is_error,
            key,
            shown_at: None,
        });
    }

    pub fn dismiss(&mut self, id: u64) {
        self.items.retain(|n| n.id != id);
    }

    /// The cause is fixed: its notices go.
    pub fn clear_key(&mut self, key: NoticeKey) {
        self.items.retain(|n| n.key != Some(key));
    }

    /// Drops messages that have been up long enough; returns how long until the next one goes.
    pub fn expire(&mut self, now: f64) -> Option<f64> {
        for n in &mut self.items {
            n.shown_at.get_or_insert(now);
        }
        self.items
            .retain(|n| n.is_error || n.shown_at.is_none_or(|t| now - t < INFO_SECONDS));
        self.items
            .iter()
            .filter(|n| !n.is_error)
            .filter_map(|n| n.shown_at.map(|t| INFO_SECONDS - (now - t)))
            .reduce(f64::min)
    }

    /// Draws the notices, newest first, except those `hide` says another panel already shows.
    /// Returns the id of one the user dismissed.
    pub fn ui(&mut self, ui: &mut egui::Ui, hide: impl Fn(&Notice) -> bool) -> Option<u64> {
        let mut dismissed = None;
        let visible: Vec<&Notice> = self.items.iter().rev().filter(|n| !hide(n)).collect();
        let shown = if self.show_all {
            visible.len()
        } else {
            visible.len().min(SHOWN)
        };
        for n in &visible[..shown] {
            if notice_ui(ui, n) {
                dismissed = Some(n.id);
            }
        }
        let folded = visible.len() - shown;
        let mut toggle = false;
        if folded > 0 || (self.show_all && visible.len() > SHOWN) {
            ui.horizontal(|ui| {
                let text = if folded > 0 {
                    format!("{folded} more")
                } else {
                    "Show fewer".to_string()
                };
                toggle = ui.small_button(text).clicked();
            });
        }
        if toggle {
            self.show_all = !self.show_all;
        }
        dismissed
    }
}

/// One notice: Dismiss first, on the right, so the text takes what width is left and wraps.
fn notice_ui(ui: &mut egui::Ui, n: &Notice) -> bool {
    let colour = if n.is_error {
        ui.visuals().error_fg_color
    } else {
        ui.visuals().text_color()
    };
    let mut dismissed = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal_top(|ui| {
            let button = egui::WidgetText::from("Dismiss")
                .into_galley(ui, None, f32::INFINITY, egui::TextStyle::Button)
                .size()
                .x
                + 2.0 * ui.spacing().button_padding.x
                + ui.spacing().item_spacing.x
                + 8.0;
            let text_width = (ui.available_width() - button).max(40.0);
            ui.allocate_ui_with_layout(
                egui::vec2(text_width, 0.0),
                egui::Layout::top_down(egui::Align::LEFT),
                |ui| {
                    ui.set_min_width(text_width);
                    let mut job = egui::text::LayoutJob::simple_format(
                        n.text.clone(),
                        egui::TextFormat::simple(egui::TextStyle::Body.resolve(ui.style()), colour),
                    );
                    job.wrap = egui::text::TextWrapping {
                        max_rows: MAX_ROWS,
                        overflow_character: Some('…'),
                        ..Default::default()
                    };
                    // Cut short past MAX_ROWS lines; egui shows the whole text on hover.
                    ui.add(egui::Label::new(job).wrap());
                },
            );
            dismissed = ui.small_button("Dismiss").clicked();
        });
    });
    dismissed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_show_once_and_messages_expire() {
        let mut n = Notices::default();
        n.error("a");
        n.info("b");
        n.error("a");
        let texts: Vec<&str> = n.items.iter().map(|n| n.text.as_str()).collect();
        assert_eq!(texts, ["b", "a"], "the repeat moved to the newest place");
        let left = n.expire(100.0).unwrap();
        assert!((left - INFO_SECONDS).abs() < 1e-9);
        assert_eq!(n.expire(100.0 + INFO_SECONDS + 1.0), None);
        assert_eq!(n.items.len(), 1, "the error stays until dismissed");
        n.keyed_error(NoticeKey::Model(ModelKind::Gpt2), "GPT-2 was not found");
        n.clear_key(NoticeKey::Model(ModelKind::Clip));
        assert_eq!(n.items.len(), 2);
        n.clear_key(NoticeKey::Model(ModelKind::Gpt2));
        assert_eq!(n.items.len(), 1);
        let id = n.items[0].id;
        n.dismiss(id);
        assert!(n.items.is_empty());
    }
}
