//! Errors and messages shown in the window as dismissable notices, never only in a terminal.

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub is_error: bool,
}

#[derive(Debug, Default)]
pub struct Notices {
    pub items: Vec<Notice>,
}

impl Notices {
    pub fn error(&mut self, text: impl Into<String>) {
        self.push(text.into(), true);
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.push(text.into(), false);
    }

    fn push(&mut self, text: String, is_error: bool) {
        // The same failure repeated (a queue of pages) is shown once.
        if !self.items.iter().any(|n| n.text == text) {
            self.items.push(Notice { text, is_error });
        }
    }

    /// Draws the notices; returns the index of one the user dismissed.
    pub fn ui(&self, ui: &mut egui::Ui) -> Option<usize> {
        let mut dismissed = None;
        for (i, n) in self.items.iter().enumerate() {
            let colour = if n.is_error {
                ui.visuals().error_fg_color
            } else {
                ui.visuals().text_color()
            };
            egui::Frame::group(ui.style()).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.colored_label(colour, &n.text);
                    if ui.small_button("Dismiss").clicked() {
                        dismissed = Some(i);
                    }
                });
            });
        }
        dismissed
    }
}
