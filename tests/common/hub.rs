//! A loopback stand-in of the Hugging Face hub: it answers `/{repo}/resolve/{revision}/{path}`
//! as the hub does (a redirect carrying `x-repo-commit` and `x-linked-etag` to a file store that
//! honours `Range` with `206` and `content-range`), records every request, and can misbehave on
//! purpose: serve other bytes, cut the connection half-way, or stall.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

pub const COMMIT: &str = "debc22c8f285c7734980c464ff992d335dde6e9a";

#[derive(Clone)]
pub struct ServedFile {
    pub repo: String,
    pub revision: String,
    pub path: String,
    pub bytes: Vec<u8>,
}

impl ServedFile {
    pub fn new(repo: &str, revision: &str, path: &str, bytes: Vec<u8>) -> Self {
        Self {
            repo: repo.into(),
            revision: revision.into(),
            path: path.into(),
            bytes,
        }
    }

    pub fn sha256(&self) -> String {
        sha256_hex(&self.bytes)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How the stand-in misbehaves.
#[derive(Clone, Copy, Default, PartialEq)]
pub enum Trouble {
    #[default]
    None,
    /// Every file's bytes are replaced by junk of the same length.
    WrongBytes,
    /// The first body sent is cut after half its bytes; later ones are whole.
    CutOnceAtHalf,
    /// Bodies stop after a quarter and the connection hangs.
    Stall,
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
}

pub struct FakeHub {
    pub url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    bodies_sent: Arc<AtomicUsize>,
}

impl FakeHub {
    pub fn start(files: Vec<ServedFile>, trouble: Trouble) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let bodies_sent = Arc::new(AtomicUsize::new(0));
        let (seen2, sent2) = (seen.clone(), bodies_sent.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (files, seen, sent) = (files.clone(), seen2.clone(), sent2.clone());
                std::thread::spawn(move || serve(stream, &files, trouble, &seen, &sent));
            }
        });
        Self {
            url,
            seen,
            bodies_sent,
        }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn bodies_sent(&self) -> usize {
        self.bodies_sent.load(Ordering::SeqCst)
    }
}

fn serve(
    stream: TcpStream,
    files: &[ServedFile],
    trouble: Trouble,
    seen: &Mutex<Vec<Seen>>,
    sent: &AtomicUsize,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut range = None;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("range") {
                    range = Some(v.trim().to_string());
                }
            }
        }
        seen.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            range: range.clone(),
        });
        let keep_going = respond(&mut out, &method, &path, range, files, trouble, sent);
        if !keep_going {
            return;
        }
    }
}

fn respond(
    out: &mut TcpStream,
    method: &str,
    path: &str,
    range: Option<String>,
    files: &[ServedFile],
    trouble: Trouble,
    sent: &AtomicUsize,
) -> bool {
    let head_only = method == "HEAD";
    // The hub: a redirect to the file store, with the commit and the LFS etag.
    if let Some(f) = files.iter().find(|f| {
        // The hub reads a revision with slashes only when escaped as one segment.
        let revision = f.revision.replace('/', "%2F");
        path == format!("/{}/resolve/{revision}/{}", f.repo, f.path)
    }) {
        // A request by commit answers with that commit, as the hub does.
        let is_commit = f.revision.len() == 40 && f.revision.bytes().all(|b| b.is_ascii_hexdigit());
        let commit = if is_commit {
            f.revision.as_str()
        } else {
            COMMIT
        };
        let msg = format!(
            "HTTP/1.1 302 Found\r\nlocation: /cdn/{}\r\nx-repo-commit: {commit}\r\n\
             x-linked-etag: \"{}\"\r\nx-linked-size: {}\r\ncontent-length: 0\r\n\r\n",
            f.sha256(),
            f.sha256(),
            f.bytes.len()
        );
        return out.write_all(msg.as_bytes()).is_ok();
    }
    // The file store: bytes by hash, with ranges.
    let Some(f) = path
        .strip_prefix("/cdn/")
        .and_then(|h| files.iter().find(|f| f.sha256() == h))
    else {
        let _ = out.write_all(
            b"HTTP/1.1 404 Not Found\r\nx-error-code: EntryNotFound\r\ncontent-length: 0\r\n\r\n",
        );
        return true;
    };
    let bytes: Vec<u8> = match trouble {
        Trouble::WrongBytes => (0..f.bytes.len()).map(|i| (i * 7 % 251) as u8).collect(),
        _ => f.bytes.clone(),
    };
    let total = bytes.len();
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse::<usize>().ok());
    let (status, start) = match start {
        Some(s) if s >= total => {
            let msg = format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\ncontent-range: bytes */{total}\r\n\
                 content-length: 0\r\n\r\n"
            );
            return out.write_all(msg.as_bytes()).is_ok();
        }
        Some(s) => ("206 Partial Content", s),
        None => ("200 OK", 0),
    };
    let body = &bytes[start..];
    let mut head = format!(
        "HTTP/1.1 {status}\r\netag: \"{}\"\r\naccept-ranges: bytes\r\ncontent-length: {}\r\n",
        f.sha256(),
        body.len()
    );
    if start > 0 {
        head.push_str(&format!(
            "content-range: bytes {start}-{}/{total}\r\n",
            total - 1
        ));
    }
    head.push_str("\r\n");
    if out.write_all(head.as_bytes()).is_err() {
        return false;
    }
    if head_only {
        return true;
    }
    let n = sent.fetch_add(1, Ordering::SeqCst);
    match trouble {
        Trouble::CutOnceAtHalf if n == 0 => {
            let _ = out.write_all(&body[..body.len() / 2]);
            let _ = out.flush();
            let _ = out.shutdown(std::net::Shutdown::Both);
            false
        }
        Trouble::Stall => {
            let _ = out.write_all(&body[..body.len() / 4]);
            let _ = out.flush();
            std::thread::sleep(Duration::from_secs(20));
            false
        }
        _ => out.write_all(body).is_ok(),
    }
}
