//! The S3 backend, on `object_store` (its `aws` feature) against AWS S3 or any S3-compatible
//! store (MinIO, Garage, Ceph RGW, Cloudflare R2, Backblaze B2; moto and s3s in the tests).
//!
//! How the trait maps onto S3 (ARCHITECTURE.md, "S3 storage", has the why):
//! - a staged object and [`Storage::publish_file`] are one multipart upload to the final key,
//!   sent in parts of `S3_PART_SIZE` with at most [`IN_FLIGHT`] parts uploading while the next
//!   fills, completed at publish (S3 makes the object appear at once) or aborted when dropped;
//!   an object smaller than one part is a single PUT;
//! - reads are ranged GETs of at most [`READ_WINDOW`] bytes each, pinned with `If-Match` on the
//!   ETag the open saw, re-cut into the caller's chunk size;
//! - an append object (a tus upload) is a multipart upload plus a tail object
//!   ([`keys::tail`]) holding what came after the last whole part; its resume token
//!   ([`AppendToken`]) lists the parts' ETags and the tail's length, and the caller records it;
//! - rename is a server-side copy then a delete of the source;
//! - the multipart uploads nobody finished are listed with ListMultipartUploads, a request
//!   `object_store` does not make, signed here with its SigV4 signer.
//!
//! Nothing is ever held whole in memory: an upload buffers at most three parts (their buffers
//! reused from part to part), and reads are streamed as the consumer takes them.

use std::collections::BTreeMap;
use std::io;
use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::{stream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsAuthorizer};
use object_store::client::{HttpClient, HttpConnector, HttpRequestBody, ReqwestConnector};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::signer::{SignedUrlOptions, Signer, Url};
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;

use super::{
    check_key, keys, AppendObject, ByteStream, ObjectMeta, OpenObject, Page, StagedObject, Storage,
    Token, Unfinished,
};
use crate::config::S3Config;

/// Parts of one upload being sent at once, besides the one filling: memory per upload stays
/// at three parts whatever the object's size.
pub const IN_FLIGHT: usize = 2;

/// The largest byte range one GET asks for: a long read is several GETs, one after the other,
/// each streamed as the consumer takes it.
pub const READ_WINDOW: u64 = 8 << 20;

/// An S3-compatible bucket (and optional prefix) as storage.
pub struct S3Storage {
    store: Arc<AmazonS3>,
    /// `S3_PREFIX`: empty or ending in `/`.
    prefix: String,
    part_size: usize,
    region: String,
    /// The bucket's URL, for the requests `object_store` does not make.
    bucket_url: String,
    http: HttpClient,
}

impl S3Storage {
    /// The bucket `config` names; nothing is sent until the first request.
    pub fn new(config: &S3Config) -> io::Result<Self> {
        let options = ClientOptions::new()
            .with_allow_http(true)
            .with_connect_timeout(Duration::from_secs(5))
            // A whole request may last as long as its reader (a paused video) takes; a stall
            // of a minute ends it, and the player asks again with a Range.
            .with_timeout_disabled()
            .with_read_timeout(Duration::from_secs(60));
        // Retries stay short, so that /readyz and a request fail within seconds when the
        // store is down instead of after object_store's default three minutes.
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_client_options(options.clone())
            .with_retry(retry);
        if let Some(id) = &config.access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret.expose());
        }
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token.expose());
        }
        let bucket_url = match &config.endpoint {
            // Another store: path-style requests (ENDPOINT/BUCKET/KEY), which every
            // S3-compatible server accepts.
            Some(endpoint) => {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false);
                format!("{endpoint}/{}", config.bucket)
            }
            // AWS: virtual-hosted style, the only one AWS promises for new buckets.
            None => {
                builder = builder.with_virtual_hosted_style_request(true);
                format!(
                    "https://{}.s3.{}.amazonaws.com",
                    config.bucket, config.region
                )
            }
        };
        let store = builder.build().map_err(io::Error::other)?;
        let http = ReqwestConnector::default()
            .connect(&options)
            .map_err(io::Error::other)?;
        Ok(S3Storage {
            store: Arc::new(store),
            prefix: config.prefix.clone(),
            part_size: config.part_size as usize,
            region: config.region.clone(),
            bucket_url,
            http,
        })
    }

    /// The object path of `key`, under the prefix.
    fn path(&self, key: &str) -> io::Result<Path> {
        check_key(key)?;
        Path::parse(format!("{}{key}", self.prefix))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }

    /// The key of an object path, or `None` for one outside the prefix.
    fn key_of<'a>(&self, location: &'a str) -> Option<&'a str> {
        location.strip_prefix(self.prefix.as_str())
    }

    /// The bytes of a small object (a tail), `None` if it does not exist.
    async fn get_small(&self, key: &str) -> io::Result<Option<Bytes>> {
        match self.store.get(&self.path(key)?).await {
            Ok(got) => Ok(Some(got.bytes().await.map_err(error)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(error(e)),
        }
    }

    /// Deletes every tail object of the append object `key`.
    async fn delete_tails(&self, key: &str) -> io::Result<()> {
        for tail in self.list(&keys::tails(key)).await? {
            self.delete_quietly(&tail.key).await?;
        }
        Ok(())
    }

    /// Deletes `key`; S3 answers the same whether it existed or not.
    async fn delete_quietly(&self, key: &str) -> io::Result<()> {
        match self.store.delete(&self.path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(error(e)),
        }
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> io::Result<()> {
        let path = self.path(key)?;
        match self
            .store
            .abort_multipart(&path, &upload_id.to_string())
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(error(e)),
        }
    }

    /// One page of ListMultipartUploads, signed with `object_store`'s SigV4 signer.
    async fn list_uploads_page(
        &self,
        key_marker: Option<&str>,
        id_marker: Option<&str>,
    ) -> io::Result<UploadsXml> {
        let mut query = vec![("uploads", ""), ("prefix", self.prefix.as_str())];
        if let (Some(key), Some(id)) = (key_marker, id_marker) {
            query.push(("key-marker", key));
            query.push(("upload-id-marker", id));
        }
        let url = url_with_query(&format!("{}/", self.bucket_url), &query)?;
        let credential = self
            .store
            .credentials()
            .get_credential()
            .await
            .map_err(error)?;
        let mut request = http::Request::builder()
            .method(http::Method::GET)
            .uri(url.as_str())
            .body(HttpRequestBody::empty())
            .map_err(io::Error::other)?;
        AwsAuthorizer::new(&credential, "s3", &self.region)
            .try_authorize(&mut request, None)
            .map_err(error)?;
        let response = self.http.execute(request).await.map_err(io::Error::other)?;
        let status = response.status();
        let body = response
            .into_body()
            .bytes()
            .await
            .map_err(io::Error::other)?;
        if !status.is_success() {
            return Err(io::Error::other(format!(
                "ListMultipartUploads answered {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        quick_xml::de::from_reader(body.as_ref()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("ListMultipartUploads: {e}"),
            )
        })
    }
}

/// `base?k=v&...`, each value percent-encoded.
fn url_with_query(base: &str, pairs: &[(&str, &str)]) -> io::Result<Url> {
    let mut url = Url::parse(base).map_err(io::Error::other)?;
    for (name, value) in pairs {
        url.query_pairs_mut().append_pair(name, value);
    }
    Ok(url)
}

/// An `object_store` error as an I/O error, "not found" as [`io::ErrorKind::NotFound`].
fn error(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        object_store::Error::Precondition { .. } => {
            io::Error::other(format!("the object changed since it was opened ({e})"))
        }
        e => io::Error::other(e),
    }
}

#[async_trait]
impl Storage for S3Storage {
    async fn stat(&self, key: &str) -> io::Result<Option<ObjectMeta>> {
        match self.store.head(&self.path(key)?).await {
            Ok(meta) => Ok(Some(ObjectMeta {
                key: key.to_string(),
                size: meta.size,
                modified: meta.last_modified.into(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(error(e)),
        }
    }

    async fn stage(&self, key: &str) -> io::Result<Box<dyn StagedObject>> {
        Ok(Box::new(S3Staged {
            store: self.store.clone(),
            path: self.path(key)?,
            part_size: self.part_size,
            buffer: BytesMut::new(),
            parts: None,
            next_part: 0,
            len: 0,
        }))
    }

    async fn publish_file(&self, file: &FsPath, key: &str) -> io::Result<()> {
        let mut staged = self.stage(key).await?;
        let mut source = tokio::fs::File::open(file).await?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = source.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            staged.write(&buf[..n]).await?;
        }
        staged.publish().await?;
        tokio::fs::remove_file(file).await
    }

    async fn fetch_file(&self, key: &str, dest: &FsPath) -> io::Result<Option<u64>> {
        let got = match self.store.get(&self.path(key)?).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(error(e)),
        };
        let mut file = tokio::fs::File::create(dest).await?;
        let mut body = got.into_stream();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(error)?;
            file.write_all(&chunk).await?;
            size += chunk.len() as u64;
        }
        file.flush().await?;
        Ok(Some(size))
    }

    async fn delete(&self, key: &str) -> io::Result<bool> {
        // S3 answers a DELETE the same whether the object existed or not: ask first.
        let existed = self.stat(key).await?.is_some();
        self.delete_quietly(key).await?;
        Ok(existed)
    }

    async fn list_page(&self, prefix: &str, after: Option<&str>, limit: usize) -> io::Result<Page> {
        let opts = PaginatedListOptions {
            offset: after.map(|a| format!("{}{a}", self.prefix)),
            max_keys: Some(limit.clamp(1, 1000)),
            ..PaginatedListOptions::default()
        };
        let full = format!("{}{prefix}", self.prefix);
        let listed = self
            .store
            .list_paginated(Some(&full), opts)
            .await
            .map_err(error)?;
        let mut objects: Vec<ObjectMeta> = listed
            .result
            .objects
            .into_iter()
            .filter_map(|meta| {
                let key = self.key_of(meta.location.as_ref())?.to_string();
                Some(ObjectMeta {
                    key,
                    size: meta.size,
                    modified: meta.last_modified.into(),
                })
            })
            .collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        let next = listed
            .page_token
            .and_then(|_| objects.last().map(|o| o.key.clone()));
        Ok(Page { objects, next })
    }

    async fn check_writable(&self) -> io::Result<()> {
        let probe = self.path(&format!("{}.probe-{}", keys::SCRATCH, uuid::Uuid::new_v4()))?;
        self.store
            .put(&probe, Bytes::from_static(b"ok").into())
            .await
            .map_err(error)?;
        self.store.delete(&probe).await.map_err(error)
    }

    async fn open(&self, key: &str) -> io::Result<Option<Arc<dyn OpenObject>>> {
        let path = self.path(key)?;
        let meta = match self.store.head(&path).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(error(e)),
        };
        Ok(Some(Arc::new(S3Open {
            store: self.store.clone(),
            path,
            size: meta.size,
            modified: meta.last_modified.into(),
            etag: meta.e_tag,
        })))
    }

    async fn presigned_url(
        &self,
        key: &str,
        ttl: Duration,
        content_type: &str,
    ) -> io::Result<Option<String>> {
        // The type is part of the signature: the bucket answers with it whatever the object
        // was stored as.
        let options =
            SignedUrlOptions::default().with_query([("response-content-type", content_type)]);
        let url = self
            .store
            .signed_url_opts(http::Method::GET, &self.path(key)?, ttl, &options)
            .await
            .map_err(error)?;
        Ok(Some(url.to_string()))
    }

    async fn create_append(&self, key: &str) -> io::Result<Token> {
        let upload_id = self
            .store
            .create_multipart(&self.path(key)?)
            .await
            .map_err(error)?;
        let token = AppendToken {
            upload_id,
            part_size: self.part_size as u64,
            parts: Vec::new(),
            tail: 0,
        };
        Ok(Some(token.encode()))
    }

    async fn open_append(
        &self,
        key: &str,
        token: Option<&str>,
    ) -> io::Result<Option<Box<dyn AppendObject>>> {
        let token = AppendToken::decode(token)?;
        let path = self.path(key)?;
        let base = token.parts.len() as u64 * token.part_size;
        let parts = Parts::new(self.store.clone(), path.clone(), token.upload_id.clone());
        Ok(Some(Box::new(S3Append {
            tail_key: (token.tail > 0).then(|| keys::tail(key, token.offset())),
            len: token.offset(),
            buffer_start: base,
            buffer: BytesMut::new(),
            tail_loaded: token.tail == 0,
            written: false,
            synced: None,
            token,
            parts,
            storage: S3Ref {
                store: self.store.clone(),
                prefix: self.prefix.clone(),
            },
            key: key.to_string(),
        })))
    }

    async fn finish_append(&self, key: &str, token: Option<&str>) -> io::Result<()> {
        let path = self.path(key)?;
        if self.stat(key).await?.is_none() {
            let token = AppendToken::decode(token)?;
            let mut etags = token.parts.clone();
            if token.tail > 0 {
                let tail_key = keys::tail(key, token.offset());
                let tail = self.get_small(&tail_key).await?.ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, format!("{tail_key} is missing"))
                })?;
                let part = self
                    .store
                    .put_part(&path, &token.upload_id, etags.len(), tail.into())
                    .await
                    .map_err(error)?;
                etags.push(part.content_id);
            }
            let parts = etags
                .into_iter()
                .map(|content_id| PartId { content_id })
                .collect();
            self.store
                .complete_multipart(&path, &token.upload_id, parts)
                .await
                .map_err(error)?;
        }
        self.delete_tails(key).await
    }

    async fn discard_append(&self, key: &str, token: Option<&str>) -> io::Result<()> {
        if token.is_some() {
            let token = AppendToken::decode(token)?;
            self.abort_upload(key, &token.upload_id).await?;
        }
        self.delete_tails(key).await?;
        self.delete_quietly(key).await
    }

    async fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (source, target) = (self.path(from)?, self.path(to)?);
        self.store.copy(&source, &target).await.map_err(error)?;
        self.delete_quietly(from).await
    }

    async fn unfinished(&self, before: SystemTime) -> io::Result<Vec<Unfinished>> {
        let mut found = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let page = self
                .list_uploads_page(
                    markers.as_ref().map(|m| m.0.as_str()),
                    markers.as_ref().map(|m| m.1.as_str()),
                )
                .await?;
            for upload in page.uploads {
                let started = time::OffsetDateTime::parse(
                    &upload.initiated,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                let started = SystemTime::from(started);
                let Some(key) = self.key_of(&upload.key) else {
                    continue;
                };
                if started < before {
                    found.push(Unfinished {
                        key: key.to_string(),
                        upload_id: upload.upload_id,
                        started,
                    });
                }
            }
            match (
                page.is_truncated,
                page.next_key_marker,
                page.next_upload_id_marker,
            ) {
                (true, Some(key), Some(id)) if !key.is_empty() => markers = Some((key, id)),
                _ => return Ok(found),
            }
        }
    }

    async fn abort(&self, upload: &Unfinished) -> io::Result<()> {
        self.abort_upload(&upload.key, &upload.upload_id).await
    }
}

/// ListMultipartUploadsResult, the parts of it used here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadsXml {
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_upload_id_marker: Option<String>,
    #[serde(default, rename = "Upload")]
    uploads: Vec<UploadXml>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadXml {
    key: String,
    upload_id: String,
    initiated: String,
}

/// An object opened with a HEAD: later reads are pinned to the ETag it saw.
struct S3Open {
    store: Arc<AmazonS3>,
    path: Path,
    size: u64,
    modified: SystemTime,
    etag: Option<String>,
}

impl OpenObject for S3Open {
    fn size(&self) -> u64 {
        self.size
    }

    fn modified(&self) -> SystemTime {
        self.modified
    }

    fn version(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    fn read_range(&self, range: Range<u64>, chunk: usize) -> ByteStream {
        let chunk = chunk.max(1);
        let windows = (range.start..range.end)
            .step_by(READ_WINDOW as usize)
            .map(move |start| start..(start + READ_WINDOW).min(range.end));
        let (store, path, etag) = (self.store.clone(), self.path.clone(), self.etag.clone());
        // One GET per window, each sent when the one before is read to its end.
        let bodies = stream::iter(windows).then(move |window| {
            let (store, path) = (store.clone(), path.clone());
            let options = GetOptions {
                range: Some(GetRange::Bounded(window)),
                if_match: etag.clone(),
                ..GetOptions::default()
            };
            async move {
                let got = store.get_opts(&path, options).await.map_err(error)?;
                Ok::<_, io::Error>(got.into_stream().map_err(error))
            }
        });
        Box::pin(
            bodies
                .try_flatten()
                .map_ok(move |bytes| stream::iter(split(bytes, chunk).map(Ok)))
                .try_flatten(),
        )
    }
}

/// `bytes` cut into pieces of at most `chunk` bytes, without copying.
fn split(mut bytes: Bytes, chunk: usize) -> impl Iterator<Item = Bytes> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            None
        } else {
            Some(bytes.split_to(chunk.min(bytes.len())))
        }
    })
}

/// Moves bytes from the front of `rest` into `buffer` until it holds a whole part of
/// `part_size` bytes, which it returns (leaving `buffer` empty); `None` once `rest` is used up
/// short of a part. A part buffer is taken from `spare` (the buffers of parts already sent) or
/// allocated once at its full size: growing one by doubling would take up to twice the memory
/// a part needs, and a new allocation per part leaves the allocator holding freed ones.
fn fill(
    buffer: &mut BytesMut,
    part_size: usize,
    rest: &mut &[u8],
    spare: &mut Vec<BytesMut>,
) -> Option<Bytes> {
    if rest.is_empty() {
        return None;
    }
    if buffer.capacity() < part_size {
        match spare.pop() {
            Some(mut reused) if buffer.is_empty() && reused.capacity() >= part_size => {
                reused.clear();
                *buffer = reused;
            }
            _ => buffer.reserve(part_size - buffer.len()),
        }
    }
    let take = (part_size - buffer.len()).min(rest.len());
    buffer.extend_from_slice(&rest[..take]);
    *rest = &rest[take..];
    (buffer.len() == part_size).then(|| std::mem::take(buffer).freeze())
}

/// The parts of one multipart upload being sent, at most [`IN_FLIGHT`] at once.
struct Parts {
    store: Arc<AmazonS3>,
    path: Path,
    upload_id: String,
    uploading: JoinSet<io::Result<(usize, String, Bytes)>>,
    /// Part index (from 0) -> ETag of each part sent.
    sent: BTreeMap<usize, String>,
    /// The buffers of parts sent, for the next parts ([`fill`]).
    spare: Vec<BytesMut>,
}

impl Parts {
    fn new(store: Arc<AmazonS3>, path: Path, upload_id: String) -> Self {
        Parts {
            store,
            path,
            upload_id,
            uploading: JoinSet::new(),
            sent: BTreeMap::new(),
            spare: Vec::new(),
        }
    }

    /// Sends part `index` once fewer than [`IN_FLIGHT`] are uploading.
    async fn send(&mut self, index: usize, bytes: Bytes) -> io::Result<()> {
        while self.uploading.len() >= IN_FLIGHT {
            self.reap_one().await?;
        }
        let (store, path, id) = (
            self.store.clone(),
            self.path.clone(),
            self.upload_id.clone(),
        );
        self.uploading.spawn(async move {
            let part = store
                .put_part(&path, &id, index, bytes.clone().into())
                .await
                .map_err(error)?;
            Ok((index, part.content_id, bytes))
        });
        Ok(())
    }

    async fn reap_one(&mut self) -> io::Result<()> {
        if let Some(done) = self.uploading.join_next().await {
            let (index, etag, bytes) = done.map_err(io::Error::other)??;
            self.sent.insert(index, etag);
            // The client has let go of the part by now, so its buffer is ours again.
            if let Ok(buffer) = bytes.try_into_mut() {
                if self.spare.len() <= IN_FLIGHT {
                    self.spare.push(buffer);
                }
            }
        }
        Ok(())
    }

    /// Waits for every part sent.
    async fn drain(&mut self) -> io::Result<()> {
        while !self.uploading.is_empty() {
            self.reap_one().await?;
        }
        Ok(())
    }
}

/// An object being written as a multipart upload to its final key, started once its first
/// part is full (a smaller object is one PUT at publish).
struct S3Staged {
    store: Arc<AmazonS3>,
    path: Path,
    part_size: usize,
    /// Bytes not yet sent as a part.
    buffer: BytesMut,
    /// The multipart upload, once started.
    parts: Option<Parts>,
    next_part: usize,
    len: u64,
}

#[async_trait]
impl StagedObject for S3Staged {
    async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.len += chunk.len() as u64;
        let mut rest = chunk;
        let mut no_spare = Vec::new();
        loop {
            let spare = match self.parts.as_mut() {
                Some(parts) => &mut parts.spare,
                None => &mut no_spare,
            };
            let Some(part) = fill(&mut self.buffer, self.part_size, &mut rest, spare) else {
                break;
            };
            if self.parts.is_none() {
                let id = self
                    .store
                    .create_multipart(&self.path)
                    .await
                    .map_err(error)?;
                self.parts = Some(Parts::new(self.store.clone(), self.path.clone(), id));
            }
            let index = self.next_part;
            self.next_part += 1;
            if let Some(parts) = self.parts.as_mut() {
                parts.send(index, part).await?;
            }
        }
        Ok(())
    }

    fn len(&self) -> u64 {
        self.len
    }

    async fn publish(mut self: Box<Self>) -> io::Result<()> {
        let rest = std::mem::take(&mut self.buffer).freeze();
        let Some(mut parts) = self.parts.take() else {
            self.store
                .put(&self.path, rest.into())
                .await
                .map_err(error)?;
            return Ok(());
        };
        let result = async {
            if !rest.is_empty() {
                parts.send(self.next_part, rest).await?;
            }
            parts.drain().await?;
            let ids = std::mem::take(&mut parts.sent)
                .into_values()
                .map(|content_id| PartId { content_id })
                .collect();
            self.store
                .complete_multipart(&self.path, &parts.upload_id, ids)
                .await
                .map_err(error)
                .map(|_| ())
        }
        .await;
        if result.is_err() {
            self.parts = Some(parts);
        }
        result
    }
}

impl Drop for S3Staged {
    fn drop(&mut self) {
        // Not published: abort the multipart upload so its parts are freed. A crash before
        // this runs leaves it to the scheduler's sweep of unfinished uploads.
        let Some(parts) = self.parts.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, path, id) = (
                parts.store.clone(),
                parts.path.clone(),
                parts.upload_id.clone(),
            );
            drop(parts);
            runtime.spawn(async move {
                if let Err(e) = store.abort_multipart(&path, &id).await {
                    tracing::warn!(%path, error = %e, "could not abort an unpublished upload");
                }
            });
        }
    }
}

/// The resume token of an S3 append object: the multipart upload, the ETag of each part (all
/// of `part_size` bytes, numbered from 1 in order), and how many bytes wait in the tail object
/// (`keys::tail(key, offset)`). Recorded by the caller after every append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendToken {
    pub upload_id: String,
    pub part_size: u64,
    pub parts: Vec<String>,
    pub tail: u64,
}

impl AppendToken {
    /// The object's length.
    pub fn offset(&self) -> u64 {
        self.parts.len() as u64 * self.part_size + self.tail
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).expect("a token always serialises")
    }

    fn decode(token: Option<&str>) -> io::Result<Self> {
        let token = token.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "this append object has no S3 resume token (was it started on local storage?)",
            )
        })?;
        serde_json::from_str(token).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad S3 resume token: {e}"),
            )
        })
    }
}

/// What an append object needs of its storage after it was opened.
struct S3Ref {
    store: Arc<AmazonS3>,
    prefix: String,
}

impl S3Ref {
    fn path(&self, key: &str) -> io::Result<Path> {
        check_key(key)?;
        Path::parse(format!("{}{key}", self.prefix))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    }
}

/// One request's appends to an S3 append object. Bytes after the last whole part stay in
/// `buffer` (starting with the tail the token named, read when first needed); each time a
/// part's worth is there it is sent as the part its offset numbers, so a part resent after a
/// crash replaces the one it repeats.
struct S3Append {
    storage: S3Ref,
    key: String,
    token: AppendToken,
    /// The tail object the current token names, if any.
    tail_key: Option<String>,
    /// The token of the last sync, not yet reported committed.
    synced: Option<(AppendToken, Option<String>)>,
    parts: Parts,
    buffer: BytesMut,
    /// The offset of `buffer[0]`: always at a part boundary.
    buffer_start: u64,
    tail_loaded: bool,
    written: bool,
    len: u64,
}

impl S3Append {
    /// Reads the tail the token names into the buffer, once.
    async fn load_tail(&mut self) -> io::Result<()> {
        if self.tail_loaded {
            return Ok(());
        }
        let key = self.tail_key.clone().unwrap_or_default();
        let tail = match self.storage.store.get(&self.storage.path(&key)?).await {
            Ok(got) => got.bytes().await.map_err(error)?,
            Err(e) => return Err(error(e)),
        };
        if tail.len() as u64 != self.token.tail {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{key} holds {} bytes, not {}", tail.len(), self.token.tail),
            ));
        }
        self.buffer = BytesMut::with_capacity(self.token.part_size as usize);
        self.buffer.extend_from_slice(&tail);
        self.tail_loaded = true;
        Ok(())
    }
}

#[async_trait]
impl AppendObject for S3Append {
    fn len(&self) -> u64 {
        self.len
    }

    async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.load_tail().await?;
        self.written = true;
        self.len += chunk.len() as u64;
        let part_size = self.token.part_size as usize;
        let mut rest = chunk;
        while let Some(part) = fill(
            &mut self.buffer,
            part_size,
            &mut rest,
            &mut self.parts.spare,
        ) {
            let index = (self.buffer_start / self.token.part_size) as usize;
            self.parts.send(index, part).await?;
            self.buffer_start += self.token.part_size;
        }
        Ok(())
    }

    async fn head(&mut self, len: usize) -> io::Result<Vec<u8>> {
        if self.buffer_start > 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the head of an S3 append object is readable only before its first part",
            ));
        }
        self.load_tail().await?;
        Ok(self.buffer[..len.min(self.buffer.len())].to_vec())
    }

    async fn sync(&mut self) -> io::Result<Token> {
        if !self.written {
            return Ok(Some(self.token.encode()));
        }
        self.parts.drain().await?;
        let mut token = self.token.clone();
        for index in token.parts.len().. {
            match self.parts.sent.get(&index) {
                Some(etag) => token.parts.push(etag.clone()),
                None => break,
            }
        }
        token.tail = self.buffer.len() as u64;
        if token.offset() != self.len {
            return Err(io::Error::other(format!(
                "parts sent out of order: {} bytes described, {} written",
                token.offset(),
                self.len
            )));
        }
        let tail_key = (token.tail > 0).then(|| keys::tail(&self.key, self.len));
        if let Some(key) = &tail_key {
            if Some(key) != self.tail_key.as_ref() {
                let bytes = Bytes::copy_from_slice(&self.buffer);
                self.storage
                    .store
                    .put(&self.storage.path(key)?, bytes.into())
                    .await
                    .map_err(error)?;
            }
        }
        let encoded = token.encode();
        self.synced = Some((token, tail_key));
        Ok(Some(encoded))
    }

    async fn committed(&mut self) -> io::Result<()> {
        let Some((token, tail_key)) = self.synced.take() else {
            return Ok(());
        };
        let previous = std::mem::replace(&mut self.tail_key, tail_key);
        self.token = token;
        if let Some(previous) = previous.filter(|p| Some(p) != self.tail_key.as_ref()) {
            match self
                .storage
                .store
                .delete(&self.storage.path(&previous)?)
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(error(e)),
            }
        }
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> io::Result<()> {
        // Parts sent since the open are not in the token; dropping `parts` stops those still
        // uploading, and the next request resends the same part numbers.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_cut_into_chunks_without_copying() {
        let bytes = Bytes::from(vec![7u8; 10]);
        let pieces: Vec<Bytes> = split(bytes, 4).collect();
        assert_eq!(
            pieces.iter().map(Bytes::len).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        assert_eq!(split(Bytes::new(), 4).count(), 0);
    }

    #[test]
    fn parts_fill_to_their_size_in_buffers_of_that_size() {
        let mut buffer = BytesMut::new();
        let mut spare = Vec::new();
        let mut rest: &[u8] = &[1u8; 25];
        let mut parts = Vec::new();
        while let Some(part) = fill(&mut buffer, 10, &mut rest, &mut spare) {
            parts.push(part);
        }
        assert_eq!(
            parts.iter().map(Bytes::len).collect::<Vec<_>>(),
            vec![10, 10]
        );
        assert_eq!((buffer.len(), buffer.capacity()), (5, 10));
        let mut rest: &[u8] = &[2u8; 5];
        let full = fill(&mut buffer, 10, &mut rest, &mut spare).unwrap();
        assert_eq!(full.as_ref(), [[1u8; 5], [2u8; 5]].concat());
        assert!(rest.is_empty() && buffer.is_empty());
        let mut rest: &[u8] = &[];
        assert!(fill(&mut buffer, 10, &mut rest, &mut spare).is_none());
        // A sent part's buffer is reused: no new allocation.
        let reused = full.try_into_mut().unwrap();
        let at = reused.as_ptr();
        spare.push(reused);
        let mut rest: &[u8] = &[3u8; 10];
        let next = fill(&mut buffer, 10, &mut rest, &mut spare).unwrap();
        assert_eq!((next.as_ptr(), next.as_ref()), (at, &[3u8; 10][..]));
    }

    #[test]
    fn tokens_describe_the_offset_and_refuse_garbage() {
        let token = AppendToken {
            upload_id: "u".into(),
            part_size: 5 << 20,
            parts: vec!["\"a\"".into(), "\"b\"".into()],
            tail: 3,
        };
        assert_eq!(token.offset(), (10 << 20) + 3);
        let decoded = AppendToken::decode(Some(&token.encode())).unwrap();
        assert_eq!(decoded, token);
        assert_eq!(
            AppendToken::decode(None).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert!(AppendToken::decode(Some("{")).is_err());
    }

    #[test]
    fn multipart_listings_parse() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
            <ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
              <NextKeyMarker>videos/b</NextKeyMarker><NextUploadIdMarker>id2</NextUploadIdMarker>
              <MaxUploads>1000</MaxUploads><IsTruncated>true</IsTruncated>
              <Upload><Key>videos/a</Key><UploadId>id1</UploadId>
                <Initiator><ID>x</ID></Initiator><Initiated>2026-11-22T10:00:00.000Z</Initiated></Upload>
              <Upload><Key>videos/b</Key><UploadId>id2</UploadId><Initiated>2026-11-22T11:00:00Z</Initiated></Upload>
            </ListMultipartUploadsResult>"#;
        let parsed: UploadsXml = quick_xml::de::from_str(xml).unwrap();
        assert!(parsed.is_truncated);
        assert_eq!(parsed.uploads.len(), 2);
        assert_eq!(parsed.uploads[1].key, "videos/b");
        assert_eq!(parsed.next_upload_id_marker.as_deref(), Some("id2"));
        let empty = r#"<ListMultipartUploadsResult><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>"#;
        let parsed: UploadsXml = quick_xml::de::from_str(empty).unwrap();
        assert!(parsed.uploads.is_empty() && !parsed.is_truncated);
    }
}
