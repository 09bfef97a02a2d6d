//! `storybook-studio story PROMPT`: candidate stories from GPT-2.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::Context;

use super::progress::TerminalDownload;
use super::GlobalArgs;
use crate::ml::kernels::packed_weight::WeightFormat;
use crate::ml::models::gpt2::tokenizer::TextTokenizer;
use crate::ml::models::gpt2::Gpt2;
use crate::ml::sampling::SamplingOptions;
use crate::ml::weights::ModelKind;
use crate::story::printable;

#[derive(Debug, clap::Args)]
pub struct StoryArgs {
    /// The first words of the story.
    #[arg(default_value = "")]
    pub prompt: String,
    /// GPT-2 folder (config.json, model.safetensors, tokenizer.json) or its .safetensors file.
    #[arg(long, value_name = "DIR")]
    pub gpt2: Option<PathBuf>,
    #[arg(long, default_value_t = 120)]
    pub max_tokens: usize,
    /// Defaults to 20, or to max tokens when that is smaller.
    #[arg(long)]
    pub min_tokens: Option<usize>,
    /// 0 writes greedily (always the most likely word).
    #[arg(long, default_value_t = 0.9)]
    pub temperature: f64,
    /// 0 turns top-k off.
    #[arg(long, default_value_t = 50)]
    pub top_k: usize,
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f64,
    #[arg(long, default_value_t = 1.2)]
    pub repetition_penalty: f64,
    #[arg(long, default_value_t = 3)]
    pub num_sequences: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// A word the story must never contain (whole word, any case, plurals too). Repeatable.
    #[arg(long = "ban", value_name = "WORD")]
    pub ban: Vec<String>,
    /// Keep the text as generated instead of cutting it after the last full sentence.
    #[arg(long)]
    pub no_trim: bool,
    /// Keep writing past the end-of-text token until max tokens.
    #[arg(long)]
    pub ignore_eos: bool,
    /// How GPT-2's weights are kept while writing on the CPU: q8 (0.28× f32's bytes, about 2×
    /// as fast with AVX-512), bf16 (0.5×) or f32 (the default). `bench story-quality` measures the cost.
    #[arg(long, value_name = "q8|bf16|f32")]
    pub weights: Option<WeightFormat>,
}

impl StoryArgs {
    pub fn sampling(&self) -> SamplingOptions {
        SamplingOptions {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            repetition_penalty: self.repetition_penalty,
            min_new_tokens: self.min_tokens.unwrap_or(self.max_tokens.min(20)),
            max_new_tokens: self.max_tokens,
            stop_at_eos: !self.ignore_eos,
            num_sequences: self.num_sequences,
            seed: self.seed,
            banned_words: self.ban.clone(),
            trim_to_sentence: !self.no_trim,
        }
    }
}

/// The story model and its tokenizer, found and loaded.
pub struct StoryModel {
    pub model: Gpt2,
    pub tokenizer: TextTokenizer,
    /// The folder (or cache snapshot) the weights came from.
    pub location: PathBuf,
}

pub fn load_story_model(
    global: &GlobalArgs,
    explicit: Option<&std::path::Path>,
) -> anyhow::Result<StoryModel> {
    let files = global.locator().locate(
        ModelKind::Gpt2,
        explicit,
        &mut TerminalDownload::new(global.json),
    )?;
    let device = crate::ml::device::open(&global.device)?;
    let (model, tokenizer) = crate::ml::models::load::gpt2(&files, &device)?;
    Ok(StoryModel {
        model,
        tokenizer,
        location: files.location,
    })
}

pub fn run(global: &GlobalArgs, args: StoryArgs) -> anyhow::Result<()> {
    let opts = args.sampling();
    opts.validate().map_err(anyhow::Error::msg)?;
    if args.prompt.trim().is_empty() {
        anyhow::bail!("the prompt is empty; type a few words to start the story");
    }
    let StoryModel {
        mut model,
        tokenizer,
        ..
    } = load_story_model(global, args.gpt2.as_deref())?;
    let weights_warning = model.pack_for_writing(args.weights);
    // One candidate streams to the terminal as it is written; several are printed at the end.
    // The prompt is printed with the first new word, so an error before it prints nothing.
    let stream = !global.json && opts.num_sequences == 1;
    let mut started = false;
    // A WordPiece (Chinese) model shows its prompt as decoded: no [CLS], no spaces between
    // characters, as the story continues it.
    let shown_prompt = match tokenizer.is_wordpiece() {
        true => tokenizer.decode(&tokenizer.encode(&args.prompt)?)?,
        false => args.prompt.clone(),
    };
    let generation = crate::ml::generate::generate(&model, &tokenizer, &args.prompt, &opts, |t| {
        if stream {
            if !started {
                print!("{}", printable::prose(&shown_prompt));
                started = true;
            }
            print!("{}", printable::prose(t.text));
            let _ = std::io::stdout().flush();
        }
        ControlFlow::Continue(())
    })
    .context("story generation failed")?;
    let mut generation = generation;
    generation.warnings.extend(weights_warning);
    for warning in &generation.warnings {
        eprintln!("warning: {warning}");
    }
    if global.json {
        return super::print_json(&generation);
    }
    if stream {
        if !started {
            print!("{}", printable::prose(&shown_prompt));
        }
        println!();
        if let Some(seq) = generation.sequences.first() {
            println!("\n(as trimmed: {})", printable::prose(&seq.text));
        }
    } else {
        for (i, seq) in generation.sequences.iter().enumerate() {
            println!("── Story {} ──\n{}\n", i + 1, printable::prose(&seq.text));
        }
    }
    eprintln!("{:.1} tokens/s", generation.tokens_per_second);
    Ok(())
}
