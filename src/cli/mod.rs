//! Command-line interface: one file per subcommand. Each parses, calls the library and prints
//! text or, with `--json`, one JSON document on stdout. Errors are printed once, as a sentence.

mod bench;
mod bench_illustrate;
mod bench_kernels;
mod bench_story;
mod book;
mod caption;
mod embed;
mod finetune;
mod gui;
mod illustrate;
mod interrupt;
mod library;
mod library_search;
mod library_show;
mod models;
mod needs;
mod progress;
mod story;
mod word_models;
mod words;
mod words_zh;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "storybook-studio",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("STORYBOOK_COMMIT"), ")"),
    about = "Turn a few words into an illustrated storybook, and a picture back into words.",
    long_about = None
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Folder with one subfolder per model (gpt2/, clip/, vqgan/, minilm/, blip/,
    /// chinese-clip/, gpt2-chinese/).
    #[arg(long, global = true, env = "STORYBOOK_MODELS", value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Never download; use only weights already on disk.
    #[arg(long, global = true)]
    pub offline: bool,
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The library file (default: the platform data folder's library.sqlite).
    #[arg(long, global = true, env = "STORYBOOK_LIBRARY", value_name = "PATH")]
    pub library: Option<PathBuf>,
    /// Compute device: cpu, or cuda / metal when built with that feature.
    #[arg(long, global = true, default_value = "cpu")]
    pub device: String,
    /// The illustrator: imagenet (default), wikiart, coco, sflickr, faceshq or imagenet-cc
    /// (`models sources` describes each).
    #[arg(
        long,
        global = true,
        env = "STORYBOOK_VQGAN_MODEL",
        value_name = "NAME",
        value_parser = crate::ml::weights::vqgan_source
    )]
    pub vqgan_model: Option<&'static crate::ml::weights::HubSource>,
}

impl GlobalArgs {
    /// The model search for this command; a download stops when Ctrl-C was pressed (for
    /// commands that installed the handler; see `interrupt`).
    pub fn locator(&self) -> crate::ml::weights::Locator {
        let mut locator = crate::ml::weights::Locator::from_env(self.models.clone(), self.offline);
        if let Some(chosen) = self.vqgan_model {
            locator.vqgan_model = chosen;
        }
        locator.cancel = Some(crate::ml::weights::CancelCheck(std::sync::Arc::new(
            interrupt::interrupted,
        )));
        locator
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the studio window (the default when no command is given).
    Gui(gui::GuiArgs),
    /// Write candidate stories from a prompt with GPT-2.
    Story(story::StoryArgs),
    /// Fine-tune GPT-2 on your own texts.
    Finetune(Box<finetune::FinetuneArgs>),
    /// Draw a picture of TEXT with VQGAN+CLIP.
    Illustrate(Box<illustrate::IllustrateArgs>),
    /// Write and illustrate a whole book into the library (or resume one).
    Book(Box<book::BookArgs>),
    /// What is happening in IMAGE, in words, with BLIP.
    Caption(Box<caption::CaptionArgs>),
    /// Words that would draw IMAGE again (clip-interrogator style).
    Prompt(Box<words::PromptArgs>),
    /// A short poem inspired by IMAGE: CLIP finds the clues, GPT-2 writes, CLIP picks the best.
    Poem(Box<words::PoemArgs>),
    /// Imagery keywords for IMAGE: classical Chinese (--lang zh, Chinese CLIP) or English.
    Keywords(Box<words_zh::KeywordsArgs>),
    /// all-MiniLM-L6-v2 sentence embeddings (384 numbers per text).
    Embed(embed::EmbedArgs),
    /// Score image-to-prompt against true prompts: mean MiniLM cosine (the Kaggle metric).
    EvalPrompts(Box<embed::EvalArgs>),
    /// Browse, search, export, delete or redo books in the library.
    Library(library::LibraryArgs),
    /// List, download or check models.
    Models(models::ModelsArgs),
    /// Measure speed against the reference implementation (see bench/compare.sh).
    Bench(bench::BenchArgs),
}

/// Parses arguments, runs the command and turns any error into one printed sentence.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return argument_error(err),
    };
    init_tracing();
    if !matches!(cli.command, None | Some(Command::Gui(_))) {
        quiet_on_closed_pipe();
    }
    let json = cli.global.json;
    let needed = needs::needed_models(cli.command.as_ref());
    let result = match cli.command {
        None => gui::run(&cli.global, gui::GuiArgs::default()),
        Some(Command::Gui(args)) => gui::run(&cli.global, args),
        Some(Command::Story(args)) => story::run(&cli.global, args),
        Some(Command::Finetune(args)) => finetune::run(&cli.global, *args),
        Some(Command::Illustrate(args)) => illustrate::run(&cli.global, *args),
        Some(Command::Book(args)) => book::run(&cli.global, *args),
        Some(Command::Caption(args)) => caption::run(&cli.global, *args),
        Some(Command::Prompt(args)) => words::run_prompt(&cli.global, *args),
        Some(Command::Poem(args)) => words::run_poem(&cli.global, *args),
        Some(Command::Keywords(args)) => words_zh::run_keywords(&cli.global, *args),
        Some(Command::Embed(args)) => embed::run_embed(&cli.global, args),
        Some(Command::EvalPrompts(args)) => embed::run_eval(&cli.global, *args),
        Some(Command::Library(args)) => library::run(&cli.global, args),
        Some(Command::Models(args)) => models::run(&cli.global, args),
        Some(Command::Bench(args)) => bench::run(&cli.global, args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let err = needs::name_every_missing_model(err, &needed, &cli.global.locator());
            let message = sentence(&err);
            let interrupted = err.is::<models::Interrupted>();
            if json {
                let doc = match interrupted {
                    true => serde_json::json!({ "error": message, "interrupted": true }),
                    false => serde_json::json!({ "error": message }),
                };
                println!("{doc}");
            }
            eprintln!("error: {message}");
            // 130, as for any program stopped by Ctrl-C (SIGINT).
            ExitCode::from(if interrupted { 130 } else { 1 })
        }
    }
}

/// The error and its causes joined by ": ", leaving out a cause whose words are already there:
/// many errors quote their cause, and `{:#}` would print it twice.
fn sentence(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Whether `--json` was given, read from the raw arguments when they did not parse.
fn json_requested() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// A command line clap refused. `--help` and `--version` print as usual; a real error is printed
/// by clap on stderr and, under `--json`, also as `{"error": ...}` on stdout. Clap's exit code
/// (2 for usage errors) is kept either way.
fn argument_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) || !json_requested()
    {
        err.exit();
    }
    println!("{}", serde_json::json!({ "error": clap_sentence(&err) }));
    let _ = err.print();
    ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2))
}

/// Clap's message as one line: the error and the lines that belong to it (the missing
/// arguments, say), without the usage and help hints that follow.
fn clap_sentence(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
        .collect();
    let joined = parts.join(" ");
    joined
        .strip_prefix("error: ")
        .unwrap_or(&joined)
        .to_string()
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `storybook-studio library list | head -1`: when the reader goes away, end quietly as other
/// command-line tools do, instead of panicking in `println!`. (Sockets are unaffected: Rust
/// writes to them with MSG_NOSIGNAL.) A book being drawn stops as after a kill, resumable.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A path as it can be pasted into a shell: as it is when it holds only safe characters, else
/// in single quotes (advice such as `--library PATH` must work when copied).
pub(crate) fn shell_word(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:,=@%".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        return text;
    }
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_word;
    use std::path::Path;

    #[test]
    fn a_path_with_spaces_or_quotes_is_quoted_for_the_shell() {
        assert_eq!(shell_word(Path::new("/a/lib.sqlite")), "/a/lib.sqlite");
        assert_eq!(
            shell_word(Path::new("/w/库 ספר.sqlite")),
            "'/w/库 ספר.sqlite'"
        );
        assert_eq!(shell_word(Path::new("it's.sqlite")), "'it'\\''s.sqlite'");
    }
}
