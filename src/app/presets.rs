//! Named illustration presets and style phrases a user picks instead of typing numbers.

use crate::worker::IllustrateOptions;

/// Quick look: 128², few cutouts and steps, a preview every 5 steps.
pub fn draft() -> IllustrateOptions {
    IllustrateOptions {
        width: 128,
        height: 128,
        iterations: 50,
        cutn: 8,
        preview_every: 5,
        ..IllustrateOptions::default()
    }
}

/// The page as it will be printed: 256², more cutouts and steps.
pub fn final_quality() -> IllustrateOptions {
    IllustrateOptions {
        width: 256,
        height: 256,
        iterations: 200,
        cutn: 32,
        preview_every: 10,
        ..IllustrateOptions::default()
    }
}

/// (name, prefix, suffix) for the style menu.
pub const STYLES: [(&str, &str, &str); 6] = [
    ("None", "", ""),
    ("Watercolour", "a watercolour painting of ", ""),
    ("Storybook", "a children's storybook illustration of ", ""),
    ("Oil painting", "an oil painting of ", ", highly detailed"),
    ("Pencil sketch", "a pencil sketch of ", ""),
    ("Ukiyo-e", "a ukiyo-e woodblock print of ", ""),
];
