//! Terminal progress (indicatif) for downloads (bytes, rate and time left) and for books
//! (pages, steps, seconds per step and time left).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::ml::weights::hub::DownloadProgress;

/// Draws one bar per file on stderr; hidden when `--json` keeps the terminal quiet.
pub struct TerminalDownload {
    bar: Option<ProgressBar>,
    quiet: bool,
    /// What the download had to say (such as which source it used), for `--json` too.
    pub notes: Vec<String>,
}

impl TerminalDownload {
    pub fn new(quiet: bool) -> Self {
        Self {
            bar: None,
            quiet,
            notes: Vec::new(),
        }
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

    fn note(&mut self, text: &str) {
        if !self.quiet {
            match &self.bar {
                Some(bar) => bar.println(text),
                None => eprintln!("{text}"),
            }
        }
        self.notes.push(text.to_string());
    }
}

/// A book's progress on stderr. On a terminal: a book line (pages done, time left for the whole
/// book) over a bar for the page being drawn (step, seconds per step, time left). Elsewhere (a
/// log file, a pipe): one plain line per page, and a step line at most every half minute.
/// `--json` keeps stderr quiet.
pub struct BookProgress {
    quiet: bool,
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    total: usize,
    to_draw: usize,
    drawn: usize,
    iterations: usize,
    page_started: Instant,
    last_line: Instant,
    seconds_per_step: Option<f64>,
    /// The time left on the page and for the book, as the bars show it (f64 bits; NaN: not
    /// known yet). indicatif's own eta averages every step, which a half-size start fools.
    page_left: Arc<AtomicU64>,
    book_left: Arc<AtomicU64>,
}

/// A bar key that shows the seconds in `left`, or nothing while they are unknown.
fn left_key(
    left: Arc<AtomicU64>,
) -> impl Fn(&ProgressState, &mut dyn std::fmt::Write) + Send + Sync + Clone + 'static {
    move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        let s = f64::from_bits(left.load(Ordering::Relaxed));
        if s.is_finite() {
            let _ = w.write_str(&format!("about {} left", duration_label(s)));
        }
    }
}

fn steps_label(seconds_per_step: f64) -> String {
    if seconds_per_step >= 0.1 {
        format!("{seconds_per_step:.2} s/step")
    } else {
        format!("{:.0} ms/step", seconds_per_step * 1000.0)
    }
}

pub(super) fn duration_label(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

impl BookProgress {
    pub fn new(quiet: bool) -> Self {
        let page_left = Arc::new(AtomicU64::new(f64::NAN.to_bits()));
        let book_left = Arc::new(AtomicU64::new(f64::NAN.to_bits()));
        let bars = (!quiet && std::io::stderr().is_terminal()).then(|| {
            // The bars join the display in `plan`, so none shows empty while the story is written.
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let book = ProgressBar::hidden();
            book.set_style(
                ProgressStyle::with_template("{prefix} [{bar:24}] {msg}  {left}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .with_key("left", left_key(book_left.clone()))
                    .progress_chars("=> "),
            );
            let page = ProgressBar::hidden();
            page.set_style(
                ProgressStyle::with_template(
                    "  {prefix} [{bar:24}] {pos}/{len} steps  {sps}  {left}  {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .with_key("left", left_key(page_left.clone()))
                .with_key(
                    "sps",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let sps = state.elapsed().as_secs_f64() / state.pos().max(1) as f64;
                        let _ = w.write_str(&steps_label(sps));
                    },
                )
                .progress_chars("=> "),
            );
            (multi, book, page)
        });
        Self {
            quiet,
            bars,
            total: 0,
            to_draw: 0,
            drawn: 0,
            iterations: 0,
            page_started: Instant::now(),
            last_line: Instant::now(),
            seconds_per_step: None,
            page_left,
            book_left,
        }
    }

    /// A line above the bars (or on its own without them).
    pub fn message(&self, line: &str) {
        if self.quiet {
            return;
        }
        match &self.bars {
            Some((multi, _, _)) => {
                let _ = multi.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    pub fn plan(&mut self, book_id: i64, total: usize, to_draw: usize, iterations: usize) {
        (self.total, self.to_draw, self.iterations) = (total, to_draw, iterations);
        if let Some((multi, book, page)) = &self.bars {
            if to_draw > 0 {
                multi.add(book.clone());
                multi.add(page.clone());
            }
            book.set_prefix(format!("Book {book_id}"));
            book.set_length((to_draw * iterations) as u64);
            book.set_position(0);
            book.set_message(format!("{} of {total} pages done", total - to_draw));
        } else if to_draw > 0 {
            self.message(&format!(
                "Book {book_id}: drawing {to_draw} of its {total} pages, {iterations} steps each."
            ));
        }
    }

    pub fn page_started(&mut self, position: usize, sentence: &str) {
        self.page_started = Instant::now();
        self.last_line = Instant::now();
        let sentence = crate::story::printable::line(sentence);
        let short: String = sentence.chars().take(48).collect();
        let ellipsis = if sentence.chars().count() > 48 {
            "…"
        } else {
            ""
        };
        match &self.bars {
            Some((_, _, page)) => {
                page.reset();
                page.set_length(self.iterations as u64);
                page.set_prefix(format!("Page {} of {}", position + 1, self.total));
                page.set_message(format!("{short}{ellipsis}"));
            }
            None => self.message(&format!(
                "Page {} of {}: {short}{ellipsis}",
                position + 1,
                self.total
            )),
        }
    }

    /// Step `step` of the page is done; `seconds_left` is the run's own estimate, when it has
    /// one.
    pub fn step(&mut self, step: usize, similarity: f32, seconds_left: Option<f64>) {
        let elapsed = self.page_started.elapsed().as_secs_f64();
        let sps = elapsed / step.max(1) as f64;
        self.seconds_per_step = Some(sps);
        let left = seconds_left.unwrap_or(sps * self.iterations.saturating_sub(step) as f64);
        // The pages after this one take what this one will have taken in all.
        let later = self.to_draw.saturating_sub(self.drawn + 1) as f64;
        let book = left + later * (elapsed + left);
        self.page_left.store(left.to_bits(), Ordering::Relaxed);
        self.book_left.store(book.to_bits(), Ordering::Relaxed);
        match &self.bars {
            Some((_, book, page)) => {
                page.set_position(step as u64);
                book.set_position((self.drawn * self.iterations + step) as u64);
            }
            None if self.last_line.elapsed().as_secs() >= 30 => {
                self.last_line = Instant::now();
                self.message(&format!(
                    "  step {step}/{}, {}, similarity {similarity:.3}, about {} left on this page",
                    self.iterations,
                    steps_label(sps),
                    duration_label(left)
                ));
            }
            None => {}
        }
    }

    pub fn page_saved(&mut self, position: usize, similarity: f32) {
        self.drawn += 1;
        let sps = self.seconds_per_step.unwrap_or(0.0);
        // Each page left takes what this one took.
        let page_took = self.page_started.elapsed().as_secs_f64();
        let left = page_took * (self.to_draw - self.drawn.min(self.to_draw)) as f64;
        self.book_left.store(left.to_bits(), Ordering::Relaxed);
        self.page_left.store(f64::NAN.to_bits(), Ordering::Relaxed);
        let done = self.total - self.to_draw + self.drawn;
        if let Some((_, book, _)) = &self.bars {
            book.set_message(format!("{done} of {} pages done", self.total));
        }
        let rest = if self.drawn < self.to_draw {
            format!("; about {} left for the book", duration_label(left))
        } else {
            String::new()
        };
        self.message(&format!(
            "Page {} of {} saved (similarity {similarity:.3}, {}){rest}.",
            position + 1,
            self.total,
            steps_label(sps)
        ));
    }

    pub fn finish(&self) {
        if let Some((multi, book, page)) = &self.bars {
            page.finish_and_clear();
            book.finish_and_clear();
            let _ = multi.clear();
        }
    }
}

/// "1 page", "2 pages": counts as the messages say them.
pub(super) fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}
