//! Image/prompt pairs for `eval-prompts`: a CSV (Kaggle's `imgId,prompt` or `image,prompt`) or a
//! folder of images, each with a same-named `.txt` holding its prompt.

use std::path::{Path, PathBuf};

use crate::ml::{Error, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub image: PathBuf,
    pub prompt: String,
}

const IMAGE_COLUMNS: [&str; 6] = ["image", "image_path", "imgid", "img_id", "file", "filename"];
const EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "bmp", "gif"];

/// Pairs from a CSV file, or from a folder (its `prompts.csv`, else image + `.txt` pairs).
pub fn read_pairs(path: &Path) -> Result<Vec<Pair>> {
    let pairs = if path.is_dir() {
        let csv = path.join("prompts.csv");
        if csv.exists() {
            read_csv(&csv)?
        } else {
            read_folder(path)?
        }
    } else {
        read_csv(path)?
    };
    if pairs.is_empty() {
        return Err(Error::Input(format!(
            "{} holds no image/prompt pairs",
            path.display()
        )));
    }
    Ok(pairs)
}

fn read_folder(dir: &Path) -> Result<Vec<Pair>> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut images: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| has_image_extension(p))
        .collect();
    images.sort();
    let mut pairs = Vec::new();
    for image in images {
        let txt = image.with_extension("txt");
        if let Ok(prompt) = std::fs::read_to_string(&txt) {
            pairs.push(Pair {
                image,
                prompt: prompt.trim().to_string(),
            });
        }
    }
    Ok(pairs)
}

fn has_image_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn read_csv(path: &Path) -> Result<Vec<Pair>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| Error::Input(format!("{}: {reason}", path.display()));
    let rows = parse_csv(&text).map_err(bad)?;
    let (header, body) = rows
        .split_first()
        .ok_or_else(|| bad("the file is empty".into()))?;
    let find = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.contains(&h.trim().to_ascii_lowercase().as_str()))
    };
    let img_col = find(&IMAGE_COLUMNS)
        .ok_or_else(|| bad("no image column (image, image_path or imgId)".into()))?;
    let prompt_col = find(&["prompt"]).ok_or_else(|| bad("no prompt column".into()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    body.iter()
        .filter(|r| r.iter().any(|c| !c.trim().is_empty()))
        .enumerate()
        .map(|(i, row)| {
            let field = |c: usize| row.get(c).map(|s| s.trim()).unwrap_or("");
            let image = resolve_image(base, field(img_col)).ok_or_else(|| {
                bad(format!(
                    "row {}: image '{}' not found",
                    i + 2,
                    field(img_col)
                ))
            })?;
            Ok(Pair {
                image,
                prompt: field(prompt_col).to_string(),
            })
        })
        .collect()
}

/// A path as given, relative to the CSV, or (Kaggle style) an id with an image extension added,
/// beside the CSV or in its `images/` folder.
fn resolve_image(base: &Path, name: &str) -> Option<PathBuf> {
    if name.is_empty() {
        return None;
    }
    let direct = base.join(name);
    if direct.is_file() {
        return Some(direct);
    }
    [base.to_path_buf(), base.join("images")]
        .iter()
        .flat_map(|dir| {
            EXTENSIONS
                .iter()
                .map(move |ext| dir.join(format!("{name}.{ext}")))
        })
        .find(|p| p.is_file())
}

/// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
pub fn parse_csv(text: &str) -> std::result::Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    // Whether the current field opened a quote, so a last field `""` still counts as a field.
    let mut was_quoted = false;
    let mut chars = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => {
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                row.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quoted field is never closed".into());
    }
    if !field.is_empty() || !row.is_empty() || was_quoted {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::parse_csv;

    #[test]
    fn quoted_fields_keep_commas_quotes_and_newlines() {
        let rows = parse_csv("imgId,prompt\r\na,\"red, \"\"big\"\"\nfox\"\nb,plain\n").unwrap();
        assert_eq!(rows[1], vec!["a", "red, \"big\"\nfox"]);
        assert_eq!(rows[2], vec!["b", "plain"]);
        assert!(parse_csv("a,\"open").is_err());
    }

    /// Found by fuzzing: a last line holding only `""` was dropped instead of read as one empty
    /// field.
    #[test]
    fn a_last_empty_quoted_field_is_kept() {
        assert_eq!(parse_csv("\"\"").unwrap(), vec![vec![String::new()]]);
        assert_eq!(parse_csv("a\n\"\"").unwrap(), vec![vec!["a"], vec![""]]);
        assert_eq!(parse_csv("").unwrap(), Vec::<Vec<String>>::new());
    }
}
