//! What an Apply in Settings changed, as short phrases for the notice that confirms it.

use std::path::PathBuf;

use crate::worker::EngineSettings;

pub fn describe(before: &EngineSettings, after: &EngineSettings) -> Vec<String> {
    let path = |p: &Option<PathBuf>| match p {
        Some(p) => p.display().to_string(),
        None => "the default".to_string(),
    };
    let mut changes = Vec::new();
    let paths = [
        ("models folder", &before.models_dir, &after.models_dir),
        ("GPT-2 folder", &before.gpt2, &after.gpt2),
        ("CLIP folder", &before.clip, &after.clip),
        ("VQGAN", &before.vqgan, &after.vqgan),
        ("MiniLM folder", &before.minilm, &after.minilm),
        ("BLIP folder", &before.blip, &after.blip),
        ("Chinese CLIP folder", &before.cn_clip, &after.cn_clip),
        ("Chinese poem GPT-2 folder", &before.gpt2_zh, &after.gpt2_zh),
        ("library", &before.library, &after.library),
        ("lexicon cache", &before.label_cache, &after.label_cache),
        ("Hugging Face cache", &before.hub_cache, &after.hub_cache),
    ];
    for (name, old, new) in paths {
        if old != new {
            changes.push(format!("{name} set to {}", path(new)));
        }
    }
    if before.offline != after.offline {
        changes.push(if after.offline {
            "never download: on".into()
        } else {
            "never download: off".into()
        });
    }
    if before.hub_mirror != after.hub_mirror {
        changes.push(match &after.hub_mirror {
            Some(m) => format!("hub mirror set to {m}"),
            None => "hub mirror set to the default".into(),
        });
    }
    if before.vqgan_model != after.vqgan_model {
        changes.push(format!(
            "illustrator set to {}",
            chosen_name(&after.vqgan_model, &crate::worker::vqgan_choices())
        ));
    }
    if before.device != after.device {
        let device = if after.device.is_empty() {
            "cpu"
        } else {
            &after.device
        };
        changes.push(format!("device set to {device}"));
    }
    if before.gpt2_weights != after.gpt2_weights {
        changes.push(format!(
            "story weights set to {}",
            chosen_name(&after.gpt2_weights, &crate::worker::gpt2_weight_choices())
        ));
    }
    changes
}

/// The chosen name, or the default's (the first of `choices`) when none was chosen.
pub fn chosen_name<'a>(chosen: &'a str, choices: &[(&'a str, &str)]) -> &'a str {
    match choices.first() {
        Some((default, _)) if chosen.is_empty() => default,
        _ => chosen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_change_and_nothing_else() {
        let before = EngineSettings::default();
        assert!(describe(&before, &before).is_empty());
        let after = EngineSettings {
            gpt2: Some("/models/mine".into()),
            offline: true,
            ..before.clone()
        };
        assert_eq!(
            describe(&before, &after),
            ["GPT-2 folder set to /models/mine", "never download: on"]
        );
        assert_eq!(
            describe(&after, &before)[0],
            "GPT-2 folder set to the default"
        );
    }
}
