//! `prompt`, `poem` and `eval-prompts` as a user runs them on the tiny fixtures: JSON shapes,
//! the label cache across runs, and every bad image refused with a sentence, never a panic.

mod common;

use std::io::Cursor;
use std::path::Path;

use common::cli::{json_of, studio};
use common::fixture;
use common::images::{animated_gif, png_bomb};
use common::minilm::write_tiny_minilm;
use image::{DynamicImage, ImageFormat};

fn prompt_args<'a>(image: &'a str, clip: &'a str) -> Vec<&'a str> {
    vec!["prompt", image, "--clip", clip, "--offline", "--json"]
}

#[test]
fn prompt_json_has_the_prompt_similarity_and_sorted_terms() {
    let dir = tempfile::tempdir().unwrap();
    let clip = fixture("clip-tiny");
    let image = fixture("clip-tiny/images/stripes_180x320.png");
    let (clip, image) = (clip.to_str().unwrap(), image.to_str().unwrap());
    let mut args = prompt_args(image, clip);
    args.extend(["--mode", "best", "--top", "3"]);
    let doc = json_of(&studio(&args, dir.path()));
    assert!(!doc["prompt"].as_str().unwrap().is_empty());
    assert!(doc["similarity"].as_f64().unwrap().abs() <= 1.0);
    let terms = doc["terms"].as_object().unwrap();
    for name in [
        "subjects",
        "scenes",
        "moods",
        "mediums",
        "styles",
        "modifiers",
        "imagery",
    ] {
        let list = terms[name].as_array().unwrap();
        assert_eq!(list.len(), 3, "{name}");
        let scores: Vec<f64> = list.iter().map(|t| t["score"].as_f64().unwrap()).collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "{name}: {scores:?}"
        );
        assert!(list.iter().all(|t| !t["term"].as_str().unwrap().is_empty()));
    }
    // The cache was written by the first run and is reused by the second.
    let cached = walk(&dir.path().join("cache"));
    assert_eq!(cached.len(), 7, "{cached:?}");
    let again = json_of(&studio(&args, dir.path()));
    assert_eq!(again["prompt"], doc["prompt"]);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn poem_json_has_n_lines_k_candidates_and_clues() {
    let dir = tempfile::tempdir().unwrap();
    let out = studio(
        &[
            "poem",
            fixture("clip-tiny/images/gradient_300x200.png")
                .to_str()
                .unwrap(),
            "--clip",
            fixture("clip-tiny").to_str().unwrap(),
            "--gpt2",
            fixture("gpt2-tiny").to_str().unwrap(),
            "--lines",
            "5",
            "--candidates",
            "2",
            "--seed",
            "3",
            "--offline",
            "--json",
        ],
        dir.path(),
    );
    let doc = json_of(&out);
    let poem = doc["poem"].as_str().unwrap();
    assert_eq!(poem.lines().count(), 5, "{poem}");
    let candidates = doc["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 2);
    assert_eq!(candidates[0]["poem"].as_str().unwrap(), poem);
    assert!(candidates[0]["score"].as_f64() >= candidates[1]["score"].as_f64());
    for clue in ["objects", "scene", "mood", "imagery"] {
        assert!(!doc["clues"][clue].as_array().unwrap().is_empty(), "{clue}");
    }
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

#[test]
fn bad_images_are_refused_with_a_sentence_and_odd_ones_work() {
    let dir = tempfile::tempdir().unwrap();
    let clip = fixture("clip-tiny");
    let clip = clip.to_str().unwrap();
    let sample = DynamicImage::ImageRgb8(image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([x as u8 * 6, y as u8 * 8, 90])
    }));
    let jpeg = encode(&sample, ImageFormat::Jpeg);
    let bad: [(&str, Vec<u8>); 4] = [
        ("empty.png", Vec::new()),
        ("words.png", b"a text file wearing a .png name".to_vec()),
        ("cut.jpg", jpeg[..jpeg.len() / 2].to_vec()),
        ("bomb.png", png_bomb()),
    ];
    for (name, bytes) in bad {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = studio(&prompt_args(path.to_str().unwrap(), clip), dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} accepted");
        assert!(
            err.starts_with("error: ") && !err.contains("panicked"),
            "{name}: {err}"
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            doc["error"].as_str().unwrap().contains(name),
            "{name}: {doc}"
        );
    }
    let one = dir.path().join("one.png");
    std::fs::write(
        &one,
        encode(&DynamicImage::new_rgb8(1, 1), ImageFormat::Png),
    )
    .unwrap();
    let gif = dir.path().join("anim.gif");
    std::fs::write(&gif, animated_gif()).unwrap();
    for path in [one, gif, fixture("images/cmyk.jpg")] {
        let doc = json_of(&studio(
            &prompt_args(path.to_str().unwrap(), clip),
            dir.path(),
        ));
        assert!(
            !doc["prompt"].as_str().unwrap().is_empty(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn eval_prompts_reports_the_mean_cosine_over_csv_and_folder_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let minilm = dir.path().join("minilm");
    std::fs::create_dir(&minilm).unwrap();
    write_tiny_minilm(&minilm);
    let data = dir.path().join("pairs");
    std::fs::create_dir(&data).unwrap();
    for f in ["circle_256x256.png", "stripes_180x320.png"] {
        std::fs::copy(fixture(&format!("clip-tiny/images/{f}")), data.join(f)).unwrap();
    }
    std::fs::write(
        data.join("prompts.csv"),
        "imgId,prompt\ncircle_256x256,\"a yellow circle, on blue\"\nstripes_180x320.png,red and white stripes\n",
    )
    .unwrap();
    let run = |target: &Path| {
        json_of(&studio(
            &[
                "eval-prompts",
                target.to_str().unwrap(),
                "--clip",
                fixture("clip-tiny").to_str().unwrap(),
                "--minilm",
                minilm.to_str().unwrap(),
                "--offline",
                "--json",
            ],
            dir.path(),
        ))
    };
    let doc = run(&data.join("prompts.csv"));
    let items = doc["items"].as_array().unwrap();
    assert_eq!(doc["pairs"], 2);
    assert_eq!(items[0]["prompt"], "a yellow circle, on blue");
    let mean = items
        .iter()
        .map(|i| i["cosine"].as_f64().unwrap())
        .sum::<f64>()
        / 2.0;
    assert!((doc["mean_cosine"].as_f64().unwrap() - mean).abs() < 1e-9);
    assert!(mean.abs() <= 1.0);

    // A folder of IMAGE + IMAGE.txt pairs.
    std::fs::remove_file(data.join("prompts.csv")).unwrap();
    std::fs::write(data.join("circle_256x256.txt"), "a circle\n").unwrap();
    let doc = run(&data);
    assert_eq!(doc["pairs"], 1);
    assert_eq!(doc["items"][0]["prompt"], "a circle");
}
