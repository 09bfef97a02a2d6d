//! Terminal progress bars (indicatif) for downloads: bytes, rate and time left.

use indicatif::{ProgressBar, ProgressStyle};

use crate::ml::weights::hub::DownloadProgress;

/// Draws one bar per file on stderr; hidden when `--json` keeps the terminal quiet.
pub struct TerminalDownload {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl TerminalDownload {
    pub fn new(quiet: bool) -> Self {
        Self { bar: None, quiet }
    }
}

impl DownloadProgress for TerminalDownload {
    fn start(&mut self, file: &str, total_bytes: u64) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(total_bytes);
        let style = ProgressStyle::with_template(
            "{msg:24} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(file.to_string());
        self.bar = Some(bar);
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}
