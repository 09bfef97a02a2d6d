//! The locator's last step: fetching a model's files from the hub, with the default VQGAN's
//! second source when its mirror cannot be reached.

use std::collections::BTreeMap;

use super::{
    download, hf_cache, hub, vqgan_source, HubSource, LocateError, Locator, ModelFiles, ModelKind,
    Origin, VQGAN_FALLBACK, VQGAN_SOURCES,
};

impl Locator {
    /// Fetches every file of `kind` from the hub; `tried` is what the search looked at first,
    /// for the "not found" sentence if the download fails too. When the default VQGAN's mirror
    /// cannot be reached, its second source is tried, and `progress` is told which was used.
    pub fn download(
        &self,
        kind: ModelKind,
        tried: Vec<String>,
        progress: &mut dyn hub::DownloadProgress,
    ) -> Result<ModelFiles, LocateError> {
        let source = self.source(kind);
        let first = self.fetch_source(kind, source, progress);
        let err = match first {
            Ok(found) => return Ok(found),
            Err(download::DownloadError::Cancelled) => return Err(LocateError::Cancelled { kind }),
            Err(err) => err,
        };
        let unreachable = matches!(
            err,
            download::DownloadError::Network { .. } | download::DownloadError::Http { .. }
        );
        if kind == ModelKind::Vqgan && source.name == VQGAN_SOURCES[0].name && unreachable {
            if let Ok(fallback) = vqgan_source(VQGAN_FALLBACK) {
                progress.note(&format!(
                    "{} did not serve it ({err}); trying {} from {} instead",
                    source.repo, fallback.name, fallback.repo
                ));
                if let Ok(found) = self.fetch_source(kind, fallback, progress) {
                    progress.note(&format!(
                        "used {} ({}) from {} at revision {}",
                        fallback.name, fallback.about, fallback.repo, fallback.revision
                    ));
                    return Ok(found);
                }
            }
        }
        Err(self.not_found(kind, tried, Some(err.to_string())))
    }

    fn fetch_source(
        &self,
        kind: ModelKind,
        source: &HubSource,
        progress: &mut dyn hub::DownloadProgress,
    ) -> Result<ModelFiles, download::DownloadError> {
        let cache = self.hf_cache.clone().unwrap_or_else(hf_cache::default_root);
        // The mirror chosen in Settings wins over HF_ENDPOINT.
        let hub = match self.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
            Some(endpoint) => download::Hub::with_endpoint(cache, Some(endpoint)),
            None => download::Hub::from_env(cache),
        };
        let never = || false;
        let cancelled: &dyn Fn() -> bool = match &self.cancel {
            Some(check) => &*check.0,
            None => &never,
        };
        let mut files = BTreeMap::new();
        for f in source.files {
            let remote = download::RemoteFile {
                repo: source.repo.into(),
                revision: source.revision.into(),
                path: f.remote.into(),
                sha256: f.sha256.map(Into::into),
                size: f.size,
            };
            let path = download::fetch(&hub, &remote, cancelled, progress)?;
            files.insert(f.local, path);
        }
        let location = super::search::folder_of(&files, &hub.cache);
        Ok(ModelFiles {
            kind,
            origin: Origin::Downloaded,
            location,
            files,
            downloaded_from: Some(source.name),
        })
    }
}
