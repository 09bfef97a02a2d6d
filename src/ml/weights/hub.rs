//! How a download reports its progress: a small trait, so the CLI (indicatif) and the studio
//! (a progress bar) can both show it.

/// Receives download progress; byte counts are per file.
pub trait DownloadProgress {
    fn start(&mut self, file: &str, total_bytes: u64);
    fn advance(&mut self, bytes: u64);
    fn finish(&mut self);
    /// A sentence worth telling the user, such as which source was used.
    fn note(&mut self, _text: &str) {}
}

/// Progress that nobody watches.
pub struct Silent;

impl DownloadProgress for Silent {
    fn start(&mut self, _file: &str, _total_bytes: u64) {}
    fn advance(&mut self, _bytes: u64) {}
    fn finish(&mut self) {}
}
