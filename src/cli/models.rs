//! `storybook-studio models list|download`: what is on disk, where, and fetching the rest.

use serde::Serialize;

use super::progress::TerminalDownload;
use super::GlobalArgs;
use crate::ml::weights::{HubSource, LocateError, ModelFiles, ModelKind, VQGAN_SOURCES};

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub action: ModelsAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum ModelsAction {
    /// Show each model: found where, and how big; or every place that was searched.
    List,
    /// Where each model is downloaded from: repository, revision, files, sha256 and size; and
    /// every illustrator `--vqgan-model` can choose.
    Sources,
    /// Write a taming .ckpt's inference tensors (no loss.*) as safetensors, after checking them.
    ConvertVqgan {
        #[arg(value_name = "IN.ckpt")]
        input: std::path::PathBuf,
        #[arg(value_name = "OUT.safetensors")]
        output: std::path::PathBuf,
        /// The taming YAML; defaults to IN.yaml, then model.yaml beside IN.
        #[arg(long, value_name = "YAML")]
        config: Option<std::path::PathBuf>,
    },
    /// Download models from the Hugging Face hub into its cache.
    Download {
        /// gpt2, clip, vqgan, minilm, blip, or all of them (about 3.5 GB with BLIP's 1.9).
        #[arg(default_value = "all")]
        which: String,
    },
}

#[derive(Debug, Serialize)]
struct ModelStatus {
    model: String,
    name: &'static str,
    /// `found` (usable), `damaged` (present but its loader would refuse it) or `missing`.
    status: &'static str,
    /// Whether the commands can use it: true only for `found`.
    found: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
    /// Where a download would fetch it from (for fine-tuned models: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<SourceJson>,
}

/// A hub source as `models list --json` and `models sources --json` show it.
#[derive(Debug, Serialize)]
struct SourceJson {
    name: &'static str,
    about: &'static str,
    repo: &'static str,
    revision: &'static str,
    #[serde(skip)]
    pinned_by_commit: bool,
    files: Vec<SourceFileJson>,
}

#[derive(Debug, Serialize)]
struct SourceFileJson {
    path: &'static str,
    local: &'static str,
    sha256: Option<&'static str>,
    size: Option<u64>,
}

impl From<&HubSource> for SourceJson {
    fn from(s: &HubSource) -> Self {
        Self {
            name: s.name,
            about: s.about,
            repo: s.repo,
            revision: s.revision,
            pinned_by_commit: s.pinned_by_commit(),
            files: s
                .files
                .iter()
                .map(|f| SourceFileJson {
                    path: f.remote,
                    local: f.local,
                    sha256: f.sha256,
                    size: f.size,
                })
                .collect(),
        }
    }
}

impl ModelStatus {
    /// A model whose files are all there, checked as its loader checks them (config, weights
    /// header, tokenizer) so a truncated or garbled file shows as damaged, with the reason.
    fn present(model: String, name: &'static str, files: &ModelFiles, origin: String) -> Self {
        let problem = crate::ml::models::load::check(files)
            .err()
            .map(|e| e.to_string());
        Self {
            model,
            name,
            status: if problem.is_some() {
                "damaged"
            } else {
                "found"
            },
            found: problem.is_none(),
            origin: Some(origin),
            location: Some(files.location.display().to_string()),
            bytes: Some(files.total_bytes()),
            problem,
            source: None,
        }
    }

    fn missing(kind: ModelKind, err: &LocateError) -> Self {
        Self {
            model: kind.to_string(),
            name: kind.display_name(),
            status: "missing",
            found: false,
            origin: None,
            location: None,
            bytes: None,
            problem: Some(err.to_string()),
            source: None,
        }
    }
}

/// Other GPT-2 folders beside the standard ones (fine-tuned models), usable with `--gpt2 DIR`.
fn extra_story_models(locator: &crate::ml::weights::Locator) -> Vec<ModelStatus> {
    let standard: Vec<&str> = ModelKind::ALL.iter().map(|k| k.dir_name()).collect();
    let bases = locator
        .models_dir
        .iter()
        .chain(std::iter::once(&locator.local_dir));
    let mut out = Vec::new();
    for base in bases {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        let mut dirs: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if standard.contains(&name.as_str()) {
                continue;
            }
            let origin = crate::ml::weights::Origin::ModelsDir;
            if let Ok(found) = crate::ml::weights::from_folder(ModelKind::Gpt2, &dir, origin) {
                out.push(ModelStatus::present(
                    format!("gpt2:{name}"),
                    "GPT-2, fine-tuned (use with --gpt2)",
                    &found,
                    "fine-tuned".into(),
                ));
            }
        }
    }
    out
}

fn print_statuses(statuses: &[ModelStatus]) {
    for s in statuses {
        let place = match (&s.location, &s.origin) {
            (Some(loc), Some(origin)) => format!("{loc} ({origin})"),
            _ => String::new(),
        };
        let mb = s.bytes.unwrap_or(0) as f64 / 1e6;
        match s.status {
            "found" => println!("{:8} found    {mb:>8.1} MB  {place}", s.model),
            "damaged" => println!(
                "{:8} damaged  {mb:>8.1} MB  {place}\n  {}\n",
                s.model,
                s.problem.as_deref().unwrap_or("")
            ),
            _ => println!(
                "{:8} missing\n{}\n",
                s.model,
                s.problem.as_deref().unwrap_or("")
            ),
        }
    }
}

fn kinds(which: &str) -> anyhow::Result<Vec<ModelKind>> {
    if which.eq_ignore_ascii_case("all") {
        return Ok(ModelKind::ALL.to_vec());
    }
    Ok(vec![which
        .parse::<ModelKind>()
        .map_err(anyhow::Error::msg)?])
}

pub fn run(global: &GlobalArgs, args: ModelsArgs) -> anyhow::Result<()> {
    let locator = global.locator();
    match args.action {
        ModelsAction::List => {
            let mut statuses: Vec<ModelStatus> = ModelKind::ALL
                .into_iter()
                .map(|kind| match locator.find_local(kind, None) {
                    Ok(found) => ModelStatus::present(
                        kind.to_string(),
                        kind.display_name(),
                        &found,
                        found.origin.to_string(),
                    ),
                    Err(err) => ModelStatus::missing(kind, &err),
                })
                .zip(ModelKind::ALL)
                .map(|(mut status, kind)| {
                    status.source = Some(locator.source(kind).into());
                    status
                })
                .collect();
            statuses.extend(extra_story_models(&locator));
            if global.json {
                return super::print_json(&statuses);
            }
            print_statuses(&statuses);
            Ok(())
        }
        ModelsAction::Sources => {
            let models: Vec<SourceJson> = ModelKind::ALL
                .into_iter()
                .filter(|k| *k != ModelKind::Vqgan)
                .map(|k| k.hub().into())
                .collect();
            let vqgan: Vec<SourceJson> = VQGAN_SOURCES.iter().map(Into::into).collect();
            if global.json {
                return super::print_json(&serde_json::json!({
                    "models": models,
                    "vqgan_models": vqgan,
                }));
            }
            print_sources(&models, &vqgan, locator.vqgan_model.name);
            Ok(())
        }
        ModelsAction::ConvertVqgan {
            input,
            output,
            config,
        } => {
            let yaml = config
                .or_else(|| {
                    [
                        input.with_extension("yaml"),
                        input.with_file_name("model.yaml"),
                    ]
                    .into_iter()
                    .find(|p| p.is_file())
                })
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no YAML config found beside {}; pass it with --config",
                        input.display()
                    )
                })?;
            let cfg = crate::ml::models::vqgan::Config::from_yaml_file(&yaml)?;
            let count =
                crate::ml::models::vqgan::ckpt::convert_to_safetensors(&input, &cfg, &output)?;
            if global.json {
                return super::print_json(&serde_json::json!({
                    "out": output.display().to_string(),
                    "tensors": count,
                }));
            }
            println!("wrote {count} tensors to {}", output.display());
            Ok(())
        }
        ModelsAction::Download { which } => {
            // Ctrl-C stops the download within a second and keeps the partial file.
            super::interrupt::install();
            let mut done = Vec::new();
            for kind in kinds(&which)? {
                if !locator.allow_download {
                    anyhow::bail!("downloads are off (--offline or HF_HUB_OFFLINE=1)");
                }
                let mut progress = TerminalDownload::new(global.json);
                let found = match locator.download(kind, Vec::new(), &mut progress) {
                    Ok(found) => found,
                    Err(err) if err.is_cancelled() => return Err(Interrupted(err).into()),
                    Err(err) => return Err(err.without_download_advice().into()),
                };
                if !global.json {
                    println!("{kind}: {}", found.location.display());
                }
                done.push(serde_json::json!({
                    "model": kind.to_string(),
                    "source": found.downloaded_from.unwrap_or(locator.source(kind).name),
                    "location": found.location.display().to_string(),
                    "bytes": found.total_bytes(),
                    "notes": progress.notes,
                }));
            }
            if global.json {
                super::print_json(&done)?;
            }
            Ok(())
        }
    }
}

/// A download stopped by Ctrl-C: the command exits 130, as an interrupted program does.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub LocateError);

fn print_sources(models: &[SourceJson], vqgan: &[SourceJson], chosen: &str) {
    let show = |s: &SourceJson, mark: &str| {
        println!("{:12}{mark} {} ({})", s.name, s.repo, s.revision);
        println!("              {}", s.about);
        // Without a hash a file is as fixed as its revision: a commit, or a ref that can move.
        let pinned = s.pinned_by_commit;
        for f in &s.files {
            let size = f.size.map(|b| match b {
                0..1_000_000 => format!(", {b} bytes"),
                _ => format!(", {:.1} MB", b as f64 / 1e6),
            });
            let hash = f.sha256.map(|h| format!(", sha256 {h}"));
            let unhashed = if pinned {
                ", pinned by its commit"
            } else {
                ", not verified: the revision is a ref that can move"
            };
            println!(
                "              {} -> {}{}{}",
                f.path,
                f.local,
                size.unwrap_or_default(),
                hash.unwrap_or_else(|| unhashed.into())
            );
        }
    };
    for s in models {
        show(s, " ");
    }
    println!("\nIllustrators (--vqgan-model NAME; * marks the one in use):");
    for s in vqgan {
        show(s, if s.name == chosen { "*" } else { " " });
    }
}
