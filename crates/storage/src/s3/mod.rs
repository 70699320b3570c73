//! [`Storage`] on S3 or an S3-compatible service (`storage.type: s3`): the object of
//! `kestra:///a/b` of tenant `main` is `main/a/b` in the bucket, Kestra's key layout
//! (`{tenant}/{uri path}`). Folders are key prefixes; [`Storage::create_dir`] leaves a
//! zero-byte [`FOLDER_MARKER`] object so that an empty folder exists, never listed.
//!
//! Client: Apache Arrow's `object_store` (feature `aws`), measured before choosing it: it adds
//! nine crates to the Linux build (object_store, quick-xml, futures and its executor and
//! macros, humantime, itertools, openssl-probe, rustls-native-certs) and rides on the
//! reqwest 0.12 / hyper 1 / rustls 0.23 / ring generation Saker already builds; about 50 s
//! of compiling in a debug build on two cores. A client of our own over the secret backend's
//! SigV4 signer would have needed S3's key encoding in the canonical request, paginated XML
//! listings, batch deletes and retries, each a place to be wrong; object_store has them, is
//! well kept, and is tested against S3, MinIO and LocalStack upstream.
//!
//! Blocking: the trait is synchronous and object_store is async, so each storage owns one
//! I/O thread ([`bridge`]) that runs every call; bounded by connect and request timeouts and
//! a retry budget, a call to an endpoint that is down fails, it does not hang.
//!
//! Errors name the bucket and the key (`s3://bucket/main/a/b`), never a credential: the text
//! of every client error has the configured secret key and session token replaced by `****`
//! (S3 error bodies quote a request's canonical form, which holds the session token).

mod bridge;
pub mod config;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as Key;
use object_store::{ClientOptions, ObjectMeta, ObjectStore, PutPayload, RetryConfig};
use zeroize::Zeroizing;

use self::bridge::IoThread;
pub use self::config::{S3Config, S3ConfigError, S3Credentials};
use crate::uri::check_tenant;
use crate::{DEFAULT_MAX_FILE_BYTES, FileInfo, FileKind, Storage, StorageError, StorageUri};

/// The object that makes an empty folder exist (written by `create_dir`, never listed).
pub const FOLDER_MARKER: &str = ".saker-folder";

/// Connecting gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// One request gives up after this long (a 64 MiB file at 1 MB/s fits).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Retries of a failed request (connection refused, 5xx), within [`RETRY_BUDGET`].
const MAX_RETRIES: usize = 3;
const RETRY_BUDGET: Duration = Duration::from_secs(30);

/// The internal storage in an S3 bucket.
pub struct S3Storage {
    store: Arc<AmazonS3>,
    io: IoThread,
    bucket: String,
    endpoint: String,
    /// Credential texts that must never appear in an error (replaced by `****`).
    redact: Vec<Zeroizing<String>>,
    /// Largest file accepted by [`Storage::put`] and returned by [`Storage::get`].
    pub max_file_bytes: u64,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("max_file_bytes", &self.max_file_bytes)
            .finish_non_exhaustive()
    }
}

/// A call's outcome before it is worded for the caller.
type Outcome<T> = Result<T, object_store::Error>;

impl S3Storage {
    /// A storage on the bucket of `config`. Nothing is called yet: a missing bucket or an
    /// unreachable endpoint shows on the first call, naming the bucket and the key.
    pub fn new(config: S3Config) -> Result<Self, S3ConfigError> {
        let endpoint = config.bucket_endpoint();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_virtual_hosted_style_request(!config.path_style)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(CONNECT_TIMEOUT)
                    .with_timeout(REQUEST_TIMEOUT)
                    .with_allow_http(endpoint.starts_with("http://")),
            )
            .with_retry(RetryConfig {
                max_retries: MAX_RETRIES,
                retry_timeout: RETRY_BUDGET,
                ..RetryConfig::default()
            });
        if config.endpoint.is_some() {
            // object_store takes the endpoint with the bucket in it when virtual-hosted.
            let base = match config.path_style {
                true => config.endpoint.clone().unwrap_or_default(),
                false => endpoint.clone(),
            };
            builder = builder.with_endpoint(base);
        }
        let mut redact = Vec::new();
        if let Some(credentials) = &config.credentials {
            builder = builder
                .with_access_key_id(&credentials.access_key_id)
                .with_secret_access_key(credentials.secret_access_key.as_str());
            redact.push(credentials.secret_access_key.clone());
            if let Some(token) = &credentials.session_token {
                builder = builder.with_token(token.as_str());
                redact.push(token.clone());
            }
        }
        for (name, value) in &config.role_env {
            if let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                builder = builder.with_config(key, value);
            }
        }
        let store = builder.build().map_err(|err| S3ConfigError {
            key: "storage.s3".into(),
            reason: format!("cannot set up the S3 client: {err}"),
        })?;
        let io = IoThread::start("saker-storage-s3").map_err(|err| S3ConfigError {
            key: "storage.s3".into(),
            reason: format!("cannot start the S3 storage's I/O thread: {err}"),
        })?;
        Ok(Self {
            store: Arc::new(store),
            io,
            bucket: config.bucket,
            endpoint,
            redact,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        })
    }

    /// The bucket files are stored in.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object key of `uri` of `tenant`: `{tenant}/{uri path}`.
    fn key(&self, tenant: &str, uri: &StorageUri) -> Result<Key, StorageError> {
        check_tenant(tenant)?;
        Key::parse(format!("{tenant}/{}", uri.path())).map_err(|err| StorageError::InvalidPath {
            path: uri.to_string(),
            reason: format!("not an S3 object key: {err}"),
        })
    }

    /// Runs `call` on the I/O thread with the client.
    fn run<T, F, Fut>(&self, call: F) -> Result<Outcome<T>, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<AmazonS3>) -> Fut,
        Fut: Future<Output = Outcome<T>> + Send + 'static,
    {
        self.io
            .run(call(self.store.clone()))
            .ok_or_else(|| StorageError::Interrupted("the S3 storage's I/O thread stopped".into()))
    }

    /// A client error worded for the caller: the object named, the credentials redacted.
    /// A 404 is [`StorageError::NotFound`] unless it is S3 saying the bucket is missing.
    fn failed(&self, key: &Key, uri: &StorageUri, err: object_store::Error) -> StorageError {
        let mut text = condense_xml(&error_chain(&err));
        if let object_store::Error::NotFound { .. } = err
            && !text.contains("NoSuchBucket")
        {
            return StorageError::NotFound {
                uri: uri.to_string(),
            };
        }
        for secret in &self.redact {
            text = text.replace(secret.as_str(), "****");
        }
        StorageError::Io {
            path: format!("s3://{}/{key}", self.bucket).into(),
            source: std::io::Error::other(format!("{text} (endpoint {})", self.endpoint)),
        }
    }

    /// The URI of an object listed under `key` (the object of `uri`), `None` for a folder
    /// marker or a key Saker would not write.
    fn uri_of(key: &Key, uri: &StorageUri, location: &Key) -> Option<StorageUri> {
        let relative = location.as_ref().strip_prefix(key.as_ref())?;
        let relative = relative.strip_prefix('/')?;
        if relative.rsplit('/').next() == Some(FOLDER_MARKER) {
            return None;
        }
        uri.join(relative).ok()
    }

    fn file_info(uri: StorageUri, meta: &ObjectMeta) -> FileInfo {
        FileInfo {
            uri,
            kind: FileKind::File,
            size: meta.size,
            modified: Some(meta.last_modified),
            created: Some(meta.last_modified),
        }
    }

    fn folder_info(uri: StorageUri) -> FileInfo {
        FileInfo {
            uri,
            kind: FileKind::Directory,
            size: 0,
            modified: None,
            created: None,
        }
    }

    /// True when at least one object lies under the folder `key`.
    fn is_folder(&self, key: &Key, uri: &StorageUri) -> Result<bool, StorageError> {
        let prefix = key.clone();
        let first =
            self.run(|store| async move { store.list(Some(&prefix)).next().await.transpose() })?;
        first
            .map(|meta| meta.is_some())
            .map_err(|err| self.failed(key, uri, err))
    }

    fn too_large(&self, uri: &StorageUri, size: u64) -> Result<(), StorageError> {
        if size > self.max_file_bytes {
            return Err(StorageError::TooLarge {
                uri: uri.to_string(),
                size,
                max: self.max_file_bytes,
            });
        }
        Ok(())
    }

    fn wrong_kind(uri: &StorageUri, found: &'static str, wanted: &'static str) -> StorageError {
        StorageError::WrongKind {
            uri: uri.to_string(),
            found,
            wanted,
        }
    }
}

/// `err` and its causes, `: `-separated (object_store's top message alone is often just
/// "Generic S3 error").
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        source = source.and_then(|s| s.source());
    }
    text
}

/// S3's XML error bodies, quoted whole by object_store, shortened to `Code: Message`.
fn condense_xml(text: &str) -> String {
    let Some(start) = text.find("<?xml") else {
        return text.to_owned();
    };
    let end = text[start..]
        .find("</Error>")
        .map_or(text.len(), |at| start + at + "</Error>".len());
    let body = &text[start..end];
    let element = |name: &str| {
        let open = format!("<{name}>");
        let from = body.find(&open)? + open.len();
        let to = body[from..].find('<')? + from;
        Some(body[from..to].trim().to_owned())
    };
    let summary = match (element("Code"), element("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => "an error without a code".to_owned(),
    };
    let rest = condense_xml(&text[end..]);
    format!("{}{summary}{rest}", &text[..start])
}

impl Storage for S3Storage {
    fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    fn put(&self, tenant: &str, uri: &StorageUri, bytes: &[u8]) -> Result<FileInfo, StorageError> {
        self.too_large(uri, bytes.len() as u64)?;
        let key = self.key(tenant, uri)?;
        let payload = PutPayload::from(bytes.to_vec());
        let location = key.clone();
        // One PUT: S3 replaces an object atomically, a reader sees the old or the new one.
        self.run(|store| async move { store.put(&location, payload).await.map(|_| ()) })?
            .map_err(|err| self.failed(&key, uri, err))?;
        let now = Utc::now();
        Ok(FileInfo {
            uri: uri.clone(),
            kind: FileKind::File,
            size: bytes.len() as u64,
            modified: Some(now),
            created: Some(now),
        })
    }

    fn get(&self, tenant: &str, uri: &StorageUri) -> Result<Vec<u8>, StorageError> {
        let key = self.key(tenant, uri)?;
        let location = key.clone();
        let max = self.max_file_bytes;
        // The size is checked from the response's headers, before the body is read.
        let answer = self.run(|store| async move {
            let result = store.get(&location).await?;
            let size = result.meta.size;
            if size > max {
                return Ok(Err(size));
            }
            result.bytes().await.map(|bytes| Ok(bytes.to_vec()))
        })?;
        match answer {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(size)) => Err(StorageError::TooLarge {
                uri: uri.to_string(),
                size,
                max,
            }),
            Err(object_store::Error::NotFound { .. }) if self.is_folder(&key, uri)? => {
                Err(Self::wrong_kind(uri, "directory", "file"))
            }
            Err(err) => Err(self.failed(&key, uri, err)),
        }
    }

    fn stat(&self, tenant: &str, uri: &StorageUri) -> Result<Option<FileInfo>, StorageError> {
        let key = self.key(tenant, uri)?;
        let location = key.clone();
        match self.run(|store| async move { store.head(&location).await })? {
            Ok(meta) => Ok(Some(Self::file_info(uri.clone(), &meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(self
                .is_folder(&key, uri)?
                .then(|| Self::folder_info(uri.clone()))),
            Err(err) => Err(self.failed(&key, uri, err)),
        }
    }

    fn list(&self, tenant: &str, uri: &StorageUri) -> Result<Vec<FileInfo>, StorageError> {
        let key = self.key(tenant, uri)?;
        let location = key.clone();
        let (is_file, listing) = self
            .run(|store| async move {
                let is_file = match store.head(&location).await {
                    Ok(_) => true,
                    Err(object_store::Error::NotFound { .. }) => false,
                    Err(err) => return Err(err),
                };
                Ok((is_file, store.list_with_delimiter(Some(&location)).await?))
            })?
            .map_err(|err| self.failed(&key, uri, err))?;
        if is_file && listing.objects.is_empty() && listing.common_prefixes.is_empty() {
            return Err(Self::wrong_kind(uri, "file", "directory"));
        }
        let folders = listing
            .common_prefixes
            .iter()
            .filter_map(|prefix| Self::uri_of(&key, uri, prefix))
            .map(Self::folder_info);
        let files = listing.objects.iter().filter_map(|meta| {
            Self::uri_of(&key, uri, &meta.location).map(|child| Self::file_info(child, meta))
        });
        let mut out: Vec<FileInfo> = folders.chain(files).collect();
        out.sort_by(|a, b| a.uri.cmp(&b.uri));
        Ok(out)
    }

    fn list_files(&self, tenant: &str, uri: &StorageUri) -> Result<Vec<FileInfo>, StorageError> {
        let key = self.key(tenant, uri)?;
        let prefix = key.clone();
        let objects = self
            .run(|store| async move { store.list(Some(&prefix)).try_collect::<Vec<_>>().await })?
            .map_err(|err| self.failed(&key, uri, err))?;
        let mut out: Vec<FileInfo> = objects
            .iter()
            .filter_map(|meta| {
                Self::uri_of(&key, uri, &meta.location).map(|child| Self::file_info(child, meta))
            })
            .collect();
        out.sort_by(|a, b| a.uri.cmp(&b.uri));
        Ok(out)
    }

    fn create_dir(&self, tenant: &str, uri: &StorageUri) -> Result<(), StorageError> {
        let key = self.key(tenant, uri)?;
        let marker = key.child(FOLDER_MARKER);
        self.run(
            |store| async move { store.put(&marker, PutPayload::default()).await.map(|_| ()) },
        )?
        .map_err(|err| self.failed(&key, uri, err))
    }

    fn delete(&self, tenant: &str, uri: &StorageUri) -> Result<bool, StorageError> {
        let key = self.key(tenant, uri)?;
        let location = key.clone();
        self.run(|store| async move {
            let mut deleted = match store.head(&location).await {
                Ok(_) => {
                    store.delete(&location).await?;
                    true
                }
                Err(object_store::Error::NotFound { .. }) => false,
                Err(err) => return Err(err),
            };
            // Everything under the folder, in S3's batch deletes.
            let under: Vec<Key> = store
                .list(Some(&location))
                .map_ok(|meta| meta.location)
                .try_collect()
                .await?;
            if !under.is_empty() {
                let locations = futures::stream::iter(under.into_iter().map(Ok)).boxed();
                store
                    .delete_stream(locations)
                    .try_collect::<Vec<_>>()
                    .await?;
                deleted = true;
            }
            Ok(deleted)
        })?
        .map_err(|err| self.failed(&key, uri, err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_error_bodies_are_condensed() {
        let text = "PUT http://h/b/k - 403 Forbidden: <?xml version=\"1.0\"?>\n<Error>\
            <Code>InvalidAccessKeyId</Code>\n<Message>The key does not exist.</Message>\
            <RequestId>1</RequestId></Error>: caused";
        assert_eq!(
            condense_xml(text),
            "PUT http://h/b/k - 403 Forbidden: InvalidAccessKeyId: The key does not exist.: caused"
        );
        assert_eq!(condense_xml("plain"), "plain");
    }

    /// S3 answers a bad signature with the canonical request it computed, which holds the
    /// `x-amz-security-token` header: whatever a client error quotes, credentials go.
    #[test]
    fn client_errors_never_carry_the_credentials() {
        let config = S3Config::from_section(
            &serde_json::json!({"bucket": "b-1", "endpoint": "http://127.0.0.1:9",
                "forcePathStyle": true, "accessKey": "AKID", "secretKey": "the-secret-Kq1",
                "sessionToken": "the-token-Zr8"}),
            &|_| None,
        )
        .unwrap();
        let storage = S3Storage::new(config).unwrap();
        let uri = StorageUri::parse("kestra:///a/b.txt").unwrap();
        let key = storage.key("main", &uri).unwrap();
        let err = object_store::Error::Generic {
            store: "S3",
            source: "403: <?xml?><Error><Code>SignatureDoesNotMatch</Code><Message>x-amz-\
                security-token:the-token-Zr8 key the-secret-Kq1</Message></Error>"
                .into(),
        };
        let text = storage.failed(&key, &uri, err).to_string();
        assert!(
            !text.contains("the-token-Zr8") && !text.contains("the-secret-Kq1"),
            "{text}"
        );
        assert!(text.contains("s3://b-1/main/a/b.txt"), "{text}");
        assert!(text.contains("SignatureDoesNotMatch"), "{text}");
        assert!(!format!("{storage:?}").contains("the-secret-Kq1"));
    }
}
