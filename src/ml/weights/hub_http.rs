//! One GET against the hub, following its redirects by hand so that `Range` goes along and the
//! commit and LFS etag of the hub's own answer are kept.

use std::time::Duration;

use super::remote_file::DownloadError;

/// Response metadata gathered across redirects: the hub puts the commit and the LFS etag on
/// its own answer, before it sends the client on to the file store.
#[derive(Default)]
pub(super) struct Meta {
    pub commit: Option<String>,
    pub etag: Option<String>,
}

fn header_value(resp: &ureq::Response, name: &str) -> Option<String> {
    resp.header(name)
        .map(|v| {
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string()
        })
        .filter(|v| !v.is_empty())
}

/// GETs `url` from byte `offset` on, following redirects by hand so `Range` goes along.
pub(super) fn get(
    url: &str,
    offset: u64,
    meta: &mut Meta,
) -> Result<ureq::Response, DownloadError> {
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout_connect(Duration::from_secs(15))
        .timeout_read(Duration::from_secs(30))
        .build();
    let mut url = url.to_string();
    for _ in 0..8 {
        let mut req = agent.get(&url);
        if offset > 0 {
            req = req.set("Range", &format!("bytes={offset}-"));
        }
        let resp = match req.call() {
            Ok(resp) => resp,
            Err(ureq::Error::Status(status, resp)) => {
                if status == 416 {
                    return Ok(resp);
                }
                return Err(DownloadError::Http { url, status });
            }
            Err(e) => {
                return Err(DownloadError::Network {
                    url,
                    reason: e.to_string(),
                })
            }
        };
        if meta.commit.is_none() {
            meta.commit = header_value(&resp, "x-repo-commit");
        }
        if meta.etag.is_none() {
            meta.etag =
                header_value(&resp, "x-linked-etag").or_else(|| header_value(&resp, "etag"));
        }
        if (300..400).contains(&resp.status()) {
            let Some(location) = resp.header("location") else {
                return Err(DownloadError::Network {
                    url,
                    reason: format!("HTTP {} without a location", resp.status()),
                });
            };
            url = join_url(&url, location);
            continue;
        }
        return Ok(resp);
    }
    Err(DownloadError::Network {
        url,
        reason: "too many redirects".into(),
    })
}

fn join_url(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| scheme_end + i)
        .unwrap_or(base.len());
    if location.starts_with('/') {
        format!("{}{location}", &base[..host_end])
    } else {
        let dir_end = base
            .rfind('/')
            .filter(|&i| i >= host_end)
            .unwrap_or(host_end);
        format!("{}/{location}", &base[..dir_end])
    }
}

/// The first byte of a `206` answer, from `content-range: bytes START-END/TOTAL`.
pub(super) fn range_start(resp: &ureq::Response) -> Option<u64> {
    let v = resp.header("content-range")?;
    v.trim()
        .strip_prefix("bytes ")?
        .split('-')
        .next()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_locations_join_like_a_browser() {
        let base = "http://127.0.0.1:9/org/repo/resolve/main/a/b.ckpt";
        assert_eq!(join_url(base, "/cdn/x"), "http://127.0.0.1:9/cdn/x");
        assert_eq!(
            join_url(base, "c.ckpt"),
            "http://127.0.0.1:9/org/repo/resolve/main/a/c.ckpt"
        );
        assert_eq!(
            join_url(base, "https://cdn.example/x"),
            "https://cdn.example/x"
        );
    }
}
