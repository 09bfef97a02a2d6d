//! What a shared file may say about the models: their names, not where they live. A book's
//! recipe records each model's folder, such as /home/ana/models/gpt2, which would tell every
//! reader of an exported book the user's name and folders; exports keep only "gpt2".

use std::io::Cursor;

/// `model_ids` with every path cut to its last part (the model's folder or file name).
pub fn model_names(model_ids: &serde_json::Value) -> serde_json::Value {
    match model_ids {
        serde_json::Value::String(s) => serde_json::Value::String(last_part(s)),
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), model_names(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        serde_json::Value::Array(items) => items.iter().map(model_names).collect(),
        other => other.clone(),
    }
}

fn last_part(s: &str) -> String {
    s.trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(s)
        .to_string()
}

/// A page picture as it may be shared: the same pixels, with the recipe chunk's model paths
/// cut to names (and no other text chunks). A picture that cannot be read is dropped.
pub fn shareable_png(png: &[u8]) -> Option<Vec<u8>> {
    let decoder = png::Decoder::new(Cursor::new(png));
    let reader = decoder.read_info().ok()?;
    let recipe = reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == "storybook-recipe")
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t.text).ok());
    let img = image::load_from_memory(png).ok()?.to_rgb8();
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, img.width(), img.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        if let Some(mut recipe) = recipe {
            if let Some(models) = recipe.get("models").map(model_names) {
                recipe["models"] = models;
            }
            encoder
                .add_text_chunk("storybook-recipe".into(), ascii(&recipe))
                .ok()?;
        }
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(img.as_raw()).ok()?;
        writer.finish().ok()?;
    }
    Some(out)
}

/// JSON with non-ASCII characters escaped, as a Latin-1 tEXt chunk needs.
fn ascii(value: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_names() {
        let ids = serde_json::json!({
            "gpt2": "/home/ana/models/gpt2",
            "clip": "C:\\Users\\ana\\clip\\",
            "vqgan": "vqgan-tiny/model.ckpt",
            "n": 3
        });
        assert_eq!(
            model_names(&ids),
            serde_json::json!({ "gpt2": "gpt2", "clip": "clip", "vqgan": "model.ckpt", "n": 3 })
        );
    }
}
