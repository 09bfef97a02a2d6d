//! The studio's own file browser, for when the system dialog cannot be used: a typed path with
//! completion from the folder it names, the home folder and recently used folders, and a check
//! of the chosen path before it is used. Its panel is `panels::file_browser`.

use std::path::{Path, PathBuf};

/// What the chosen path is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickPurpose {
    OpenImage,
    /// Export the library book with this id (HTML or PDF, by extension).
    ExportBook(i64),
    ModelsFolder,
}

impl PickPurpose {
    pub fn title(self) -> &'static str {
        match self {
            Self::OpenImage => "Choose an image",
            Self::ExportBook(_) => "Export the book to…",
            Self::ModelsFolder => "Choose the models folder",
        }
    }

    pub fn accept_label(self) -> &'static str {
        match self {
            Self::OpenImage => "Open",
            Self::ExportBook(_) => "Export",
            Self::ModelsFolder => "Use this folder",
        }
    }

    fn wants_folder(self) -> bool {
        self == Self::ModelsFolder
    }
}

const IMAGE_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "gif", "bmp"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
}

pub struct FileBrowser {
    pub purpose: PickPurpose,
    /// The path as typed.
    pub text: String,
    /// Why the last accept was refused.
    pub error: Option<String>,
    /// An existing file the user was told about: the next accept of it replaces it.
    pub replacing: Option<PathBuf>,
    listed: Option<PathBuf>,
    entries: Vec<Entry>,
}

impl FileBrowser {
    /// Starts in `start` (a folder), with `default_name` typed after it for a save.
    pub fn new(purpose: PickPurpose, start: &Path, default_name: &str) -> Self {
        let mut text = start.display().to_string();
        if !text.ends_with(std::path::MAIN_SEPARATOR) {
            text.push(std::path::MAIN_SEPARATOR);
        }
        text.push_str(default_name);
        Self {
            purpose,
            text,
            replacing: None,
            error: None,
            listed: None,
            entries: Vec::new(),
        }
    }

    /// The folder the typed text is in, and the partial name after it.
    pub fn split(&self) -> (PathBuf, String) {
        let text = expand_home(&self.text);
        if text.as_os_str().is_empty() {
            return (PathBuf::from("/"), String::new());
        }
        if self.text.ends_with(['/', std::path::MAIN_SEPARATOR]) {
            return (text, String::new());
        }
        let name = text
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = text
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        (dir, name)
    }

    /// Entries of the typed folder whose names start with the typed part, folders first.
    /// Reads the folder only when the typed folder changes.
    pub fn suggestions(&mut self) -> Vec<Entry> {
        let (dir, prefix) = self.split();
        if self.listed.as_deref() != Some(dir.as_path()) {
            self.entries = list(&dir, self.purpose);
            self.listed = Some(dir);
        }
        let prefix = prefix.to_lowercase();
        self.entries
            .iter()
            .filter(|e| e.name.to_lowercase().starts_with(&prefix))
            .cloned()
            .collect()
    }

    /// Completes the typed name as far as the matching entries agree; a single folder gets its
    /// separator so the next completion looks inside it.
    pub fn complete(&mut self) {
        let matches = self.suggestions();
        let Some(first) = matches.first() else { return };
        let common = matches.iter().skip(1).fold(first.name.clone(), |acc, e| {
            acc.chars()
                .zip(e.name.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect()
        });
        let (dir, prefix) = self.split();
        if common.chars().count() < prefix.chars().count() {
            return;
        }
        let mut text = dir.join(&common).display().to_string();
        if matches.len() == 1 && first.is_dir {
            text.push(std::path::MAIN_SEPARATOR);
        }
        self.text = text;
    }

    /// Types `dir` followed by a separator: the browser then lists that folder.
    pub fn enter(&mut self, dir: &Path) {
        let mut text = dir.display().to_string();
        if !text.ends_with(std::path::MAIN_SEPARATOR) {
            text.push(std::path::MAIN_SEPARATOR);
        }
        self.text = text;
        self.error = None;
    }

    /// The typed path if it fits the purpose, or a sentence saying why not.
    pub fn accept(&mut self) -> Result<PathBuf, String> {
        let trimmed = self.text.trim();
        if trimmed.is_empty() {
            return Err("Type a path first.".into());
        }
        let path = expand_home(trimmed);
        match self.purpose {
            PickPurpose::OpenImage if path.is_dir() => Err(format!(
                "{} is a folder; choose an image in it.",
                path.display()
            )),
            PickPurpose::OpenImage if !path.is_file() => {
                Err(format!("There is no file at {}.", path.display()))
            }
            PickPurpose::ModelsFolder if !path.is_dir() => {
                Err(format!("There is no folder at {}.", path.display()))
            }
            PickPurpose::ExportBook(_) => {
                let ext = path
                    .extension()
                    .map(|e| e.to_string_lossy().to_lowercase())
                    .unwrap_or_default();
                let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
                if path.is_dir() {
                    Err(format!(
                        "{} is a folder; add a file name such as book.html.",
                        path.display()
                    ))
                } else if !["html", "htm", "pdf", "epub"].contains(&ext.as_str()) {
                    Err("The file name must end in .html, .pdf or .epub.".into())
                } else if folder.is_some_and(|f| !f.is_dir()) {
                    Err(format!(
                        "There is no folder {}.",
                        folder
                            .map(Path::display)
                            .map(|d| d.to_string())
                            .unwrap_or_default()
                    ))
                } else if path.is_file() && self.replacing.as_ref() != Some(&path) {
                    // Asked once: the button now says Replace, and a second press writes.
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    self.replacing = Some(path);
                    Err(format!(
                        "{} already exists; press Replace to write over it, or type another name.",
                        name.unwrap_or_default()
                    ))
                } else {
                    Ok(path)
                }
            }
            _ => Ok(path),
        }
    }
}

/// `~` and `~/…` mean the home folder.
pub fn expand_home(text: &str) -> PathBuf {
    if text == "~" || text.starts_with("~/") {
        if let Some(home) = home_dir() {
            return home.join(text.trim_start_matches('~').trim_start_matches('/'));
        }
    }
    PathBuf::from(text)
}

pub fn home_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf())
}

/// The folder's entries that fit the purpose (folders always; images when opening one), sorted,
/// hidden ones left out. An unreadable folder lists nothing.
fn list(dir: &Path, purpose: PickPurpose) -> Vec<Entry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut entries: Vec<Entry> = read
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_dir = e.path().is_dir();
            let fits = is_dir
                || match purpose {
                    PickPurpose::OpenImage => Path::new(&name)
                        .extension()
                        .map(|x| x.to_string_lossy().to_lowercase())
                        .is_some_and(|x| IMAGE_EXTENSIONS.contains(&x.as_str())),
                    PickPurpose::ExportBook(_) => true,
                    PickPurpose::ModelsFolder => false,
                };
            (!name.starts_with('.') && fits).then_some(Entry { name, is_dir })
        })
        .collect();
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then(a.name.cmp(&b.name)));
    entries.truncate(500);
    entries
}

/// Remembers `folder` as the most recent, keeping at most eight.
pub fn remember(recent: &mut Vec<PathBuf>, folder: &Path) {
    recent.retain(|r| r != folder);
    recent.insert(0, folder.to_path_buf());
    recent.truncate(8);
}

impl PickPurpose {
    /// The folder a chosen path adds to the recent ones.
    pub fn folder_of(self, path: &Path) -> Option<PathBuf> {
        if self.wants_folder() {
            Some(path.to_path_buf())
        } else {
            path.parent().map(Path::to_path_buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_lists_and_extends_the_typed_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pictures")).unwrap();
        std::fs::write(dir.path().join("picnic.png"), b"x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        let mut b = FileBrowser::new(PickPurpose::OpenImage, dir.path(), "pi");
        let names: Vec<String> = b.suggestions().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["pictures", "picnic.png"], "folders first; no .txt");
        b.complete();
        assert_eq!(b.split().1, "pic");
        b.text.push('t');
        b.complete();
        assert_eq!(
            b.text,
            format!("{}/", dir.path().join("pictures").display())
        );
        assert!(b.accept().unwrap_err().contains("folder"));
        b.enter(dir.path());
        b.text.push_str("picnic.png");
        assert_eq!(b.accept().unwrap(), dir.path().join("picnic.png"));
    }

    #[test]
    fn an_export_needs_a_known_extension_in_an_existing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let b = |name: &str| FileBrowser::new(PickPurpose::ExportBook(1), dir.path(), name);
        assert!(b("book.html").accept().is_ok());
        assert!(b("book.PDF").accept().is_ok());
        assert!(b("book.epub").accept().is_ok());
        assert!(b("book.txt")
            .accept()
            .unwrap_err()
            .contains(".html, .pdf or .epub"));
        assert!(b("missing/book.html")
            .accept()
            .unwrap_err()
            .contains("no folder"));
        // An existing file is replaced only on the second press, after the question.
        std::fs::write(dir.path().join("old.html"), b"kept").unwrap();
        let mut again = b("old.html");
        assert!(again.accept().unwrap_err().contains("already exists"));
        assert_eq!(again.accept().unwrap(), dir.path().join("old.html"));
        let mut recent = Vec::new();
        for i in 0..10 {
            remember(&mut recent, &dir.path().join(i.to_string()));
        }
        remember(&mut recent, &dir.path().join("3"));
        assert_eq!(recent.len(), 8);
        assert_eq!(recent[0], dir.path().join("3"));
    }
}
