//! Typed configuration read from environment variables.
//!
//! Each service builds its own config struct from an [`Env`]; this module only knows how to read
//! one variable, apply its default and say, in one line naming the variable, why a value is bad.
//! Lookups go through [`Env`] rather than `std::env` so tests can feed values without touching the
//! process environment.

use std::collections::HashMap;
use std::fmt::Display;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A bad configuration value; its `Display` is the one-line message printed at start-up.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {name}={value:?}: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

/// Where configuration values come from: the process environment, or a fixed map in tests.
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment, read once.
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    /// A fixed set of variables, for tests.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Env {
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The raw value, treating an empty string as unset.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn parse_with<T>(
        &self,
        name: &str,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.raw(name) {
            None => Ok(default),
            Some(value) => parse(value.trim()).map_err(|reason| ConfigError {
                name: name.to_string(),
                value: value.to_string(),
                reason,
            }),
        }
    }

    /// Any `FromStr` value (numbers, booleans, addresses), or `default` when unset.
    pub fn get<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.parse_with(name, default, |v| v.parse::<T>().map_err(|e| e.to_string()))
    }

    /// A string value, or `default` when unset.
    pub fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_string()
    }

    /// A listen or upstream address such as `127.0.0.1:8000`.
    pub fn addr(&self, name: &str, default: &str) -> Result<SocketAddr, ConfigError> {
        let fallback = default
            .parse()
            .map_err(|e: std::net::AddrParseError| ConfigError {
                name: name.to_string(),
                value: default.to_string(),
                reason: e.to_string(),
            })?;
        self.parse_with(name, fallback, |v| {
            v.parse()
                .map_err(|_| "expected HOST:PORT, for example 127.0.0.1:8000".to_string())
        })
    }

    /// A duration such as `30s`, `500ms`, `5m`, `2h` or a bare number of seconds.
    pub fn duration(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        self.parse_with(name, default, parse_duration)
    }

    /// A size such as `1GiB`, `64KiB`, `10MB` or a bare number of bytes.
    pub fn bytes(&self, name: &str, default: u64) -> Result<u64, ConfigError> {
        self.parse_with(name, default, parse_bytes)
    }

    /// A comma-separated list of IP addresses (`TRUSTED_PROXIES`); `none` means an empty list,
    /// since an empty value means "use the default" like every variable.
    pub fn ip_list(&self, name: &str, default: &str) -> Result<Vec<IpAddr>, ConfigError> {
        let value = self.string(name, default);
        value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "none")
            .map(|s| {
                s.parse::<IpAddr>().map_err(|_| ConfigError {
                    name: name.to_string(),
                    value: value.clone(),
                    reason: format!(
                        "{s:?} is not an IP address; list IPs separated by commas, or none"
                    ),
                })
            })
            .collect()
    }

    /// A positive count (a limit, a number of workers).
    pub fn positive(&self, name: &str, default: u32) -> Result<u32, ConfigError> {
        self.parse_with(name, default, |v| match v.parse::<u32>() {
            Ok(0) => Err("must be at least 1".to_string()),
            Ok(n) => Ok(n),
            Err(_) => Err("expected a whole number of at least 1".to_string()),
        })
    }
}

/// Log output format, from `LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "human" | "text" | "pretty" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected `human` or `json`".to_string()),
        }
    }
}

/// The settings every process shares.
#[derive(Debug, Clone)]
pub struct Common {
    pub drain_timeout: Duration,
    pub log_format: LogFormat,
    /// The caps on each client connection (`HEADER_READ_TIMEOUT`, `MAX_CONNECTIONS_PER_CLIENT`,
    /// `TRUSTED_PROXIES`), for `Server::connection_limits`.
    pub connections: crate::server::ConnectionLimits,
}

impl Common {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Common {
            drain_timeout: env.duration("DRAIN_TIMEOUT", Duration::from_secs(30))?,
            log_format: env.get("LOG_FORMAT", LogFormat::Human)?,
            connections: crate::server::ConnectionLimits::from_env(env)?,
        })
    }
}

/// The database every process uses unless `DATABASE_URL` says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "mysql://video:video@127.0.0.1:3306/video";

/// `DATABASE_URL`, for the processes that open the database (all but web). Its `Debug` hides
/// the password, so a configuration can be logged whole.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = env.string("DATABASE_URL", DEFAULT_DATABASE_URL);
        match mysql_async::Opts::from_url(&url) {
            Ok(_) => Ok(DatabaseUrl(url)),
            Err(e) => Err(ConfigError {
                name: "DATABASE_URL".into(),
                value: redact_url(&url),
                reason: e.to_string(),
            }),
        }
    }

    /// The URL itself, password included: for opening the pool, never for a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&redact_url(&self.0))
            .finish()
    }
}

/// The URL with its password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}:***{}", &url[..scheme + 3 + colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Where stored objects live and where processing keeps its scratch files: `STORAGE_BACKEND`
/// and its settings, read by every process that uses storage (streamserver, scheduler).
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub backend: Backend,
    /// `SCRATCH_DIR`: a local directory for files ffmpeg reads and writes. Default: `tmp/` under
    /// `STORAGE_DIR` for the local backend (the same filesystem, so publishing is a rename), the
    /// system's temporary directory (`clipshare-scratch`) for S3.
    pub scratch_dir: PathBuf,
}

/// `STORAGE_BACKEND`: `local` (default) or `s3`, with the settings of each.
#[derive(Debug, Clone)]
pub enum Backend {
    /// `STORAGE_DIR`, default `var/storage`.
    Local(PathBuf),
    S3(S3Config),
}

/// The S3-compatible object store, from `S3_*` and the standard `AWS_*` credential variables.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `S3_BUCKET` (required).
    pub bucket: String,
    /// `S3_PREFIX`: prepended to every key, so several installations can share a bucket;
    /// empty, or ending in `/` (added when missing).
    pub prefix: String,
    /// `S3_ENDPOINT`: the store's URL for anything but AWS (MinIO, Garage, Ceph RGW, R2, B2);
    /// requests are then path-style (`ENDPOINT/BUCKET/KEY`). Unset: AWS, virtual-hosted style.
    pub endpoint: Option<String>,
    /// `S3_REGION`, default `us-east-1`.
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`; unset, the AWS credential chain (instance metadata) is used.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY` (its `Debug` hides it).
    pub secret_access_key: Option<Secret>,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<Secret>,
    /// `S3_PART_SIZE`: the size of a multipart upload's parts, default 8MiB, between 5MiB (the
    /// S3 minimum) and 512MiB. An upload holds at most three parts in memory.
    pub part_size: u64,
}

/// The S3 minimum size of every part of a multipart upload but the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;

/// A secret value whose `Debug` prints `***`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself: for the client that needs it, never for a message.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl StorageConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let backend = match env
            .string("STORAGE_BACKEND", "local")
            .to_ascii_lowercase()
            .as_str()
        {
            "local" => Backend::Local(PathBuf::from(env.string("STORAGE_DIR", "var/storage"))),
            "s3" => Backend::S3(S3Config::from_env(env)?),
            _ => {
                return Err(ConfigError {
                    name: "STORAGE_BACKEND".into(),
                    value: env.string("STORAGE_BACKEND", ""),
                    reason: "expected `local` (a directory, STORAGE_DIR) or `s3` (S3_BUCKET ...)"
                        .into(),
                })
            }
        };
        let scratch_default = match &backend {
            Backend::Local(dir) => dir.join("tmp"),
            Backend::S3(_) => std::env::temp_dir().join("clipshare-scratch"),
        };
        let scratch_dir = env
            .raw("SCRATCH_DIR")
            .map(PathBuf::from)
            .unwrap_or(scratch_default);
        Ok(StorageConfig {
            backend,
            scratch_dir,
        })
    }

    /// A local directory as storage, its `tmp/` as scratch: the default layout, for tests.
    pub fn local(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        StorageConfig {
            scratch_dir: dir.join("tmp"),
            backend: Backend::Local(dir),
        }
    }
}

impl S3Config {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let bad = |name: &str, reason: &str| ConfigError {
            name: name.into(),
            value: env.string(name, ""),
            reason: reason.into(),
        };
        let bucket = env
            .raw("S3_BUCKET")
            .ok_or_else(|| bad("S3_BUCKET", "required with STORAGE_BACKEND=s3"))?
            .trim()
            .to_string();
        let mut prefix = env
            .string("S3_PREFIX", "")
            .trim()
            .trim_start_matches('/')
            .to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
            return Err(bad(
                "S3_PREFIX",
                "use path segments such as `clipshare/` (no `.`, `..` or empty ones)",
            ));
        }
        let endpoint = env
            .raw("S3_ENDPOINT")
            .map(|e| e.trim().trim_end_matches('/').to_string());
        if let Some(e) = &endpoint {
            if !(e.starts_with("http://") || e.starts_with("https://")) {
                return Err(bad(
                    "S3_ENDPOINT",
                    "expected a URL such as http://127.0.0.1:9000",
                ));
            }
        }
        let part_size = env.bytes("S3_PART_SIZE", 8 << 20)?;
        if !(MIN_PART_SIZE..=512 << 20).contains(&part_size) {
            return Err(bad(
                "S3_PART_SIZE",
                "must be between 5MiB (the S3 minimum) and 512MiB",
            ));
        }
        let secret = |name: &str| env.raw(name).map(|v| Secret(v.to_string()));
        Ok(S3Config {
            bucket,
            prefix,
            endpoint,
            region: env.string("S3_REGION", "us-east-1"),
            access_key_id: env.raw("AWS_ACCESS_KEY_ID").map(str::to_string),
            secret_access_key: secret("AWS_SECRET_ACCESS_KEY"),
            session_token: secret("AWS_SESSION_TOKEN"),
            part_size,
        })
    }
}

fn parse_duration(v: &str) -> Result<Duration, String> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| "expected a duration such as 30s, 500ms, 5m or 2h".to_string())?;
    match unit.trim() {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        "d" => Ok(Duration::from_secs(n * 86400)),
        other => Err(format!(
            "unknown unit {other:?}; use ms, s, m, h or d (for example 30s)"
        )),
    }
}

fn parse_bytes(v: &str) -> Result<u64, String> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| "expected a size such as 1GiB, 64KiB or 1048576".to_string())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "kib" => 1 << 10,
        "m" | "mb" => 1000 * 1000,
        "mib" => 1 << 20,
        "g" | "gb" => 1000 * 1000 * 1000,
        "gib" => 1 << 30,
        other => return Err(format!("unknown unit {other:?}; use B, KiB, MiB or GiB")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| "size is too large".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let env = Env::from_pairs(&[("EMPTY", "")]);
        assert_eq!(env.get("MISSING", 7u32).unwrap(), 7);
        assert_eq!(env.positive("EMPTY", 3).unwrap(), 3);
        assert_eq!(env.string("EMPTY", "x"), "x");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let env = Env::from_pairs(&[
            ("API_ADDR", "nonsense"),
            ("WORKERS", "0"),
            ("DRAIN_TIMEOUT", "10 parsecs"),
            ("LOG_FORMAT", "xml"),
            ("MAX_UPLOAD", "12 furlongs"),
            ("DATABASE_URL", "postgres://x"),
        ]);
        let e = env.addr("API_ADDR", "127.0.0.1:8000").unwrap_err();
        assert_eq!(e.name, "API_ADDR");
        assert!(e.to_string().contains("API_ADDR=\"nonsense\""), "{e}");
        assert!(e.to_string().contains("HOST:PORT"));
        assert!(env
            .positive("WORKERS", 4)
            .unwrap_err()
            .to_string()
            .contains("WORKERS"));
        assert!(env
            .duration("DRAIN_TIMEOUT", Duration::from_secs(1))
            .unwrap_err()
            .to_string()
            .contains("DRAIN_TIMEOUT"));
        assert_eq!(
            env.get("LOG_FORMAT", LogFormat::Human).unwrap_err().name,
            "LOG_FORMAT"
        );
        assert_eq!(env.bytes("MAX_UPLOAD", 1).unwrap_err().name, "MAX_UPLOAD");
        assert_eq!(
            DatabaseUrl::from_env(&env).unwrap_err().name,
            "DATABASE_URL"
        );
        // The message is one line.
        assert!(!e.to_string().contains('\n'));
    }

    #[test]
    fn a_database_url_never_prints_its_password() {
        let env = Env::from_pairs(&[("DATABASE_URL", "mysql://app:s3cret@db:3306/video")]);
        let url = DatabaseUrl::from_env(&env).unwrap();
        assert_eq!(url.expose(), "mysql://app:s3cret@db:3306/video");
        let shown = format!("{url:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("app:***@db:3306"), "{shown}");
    }

    #[test]
    fn ip_lists_parse() {
        let env = Env::from_pairs(&[
            ("A", "10.0.0.1, ::1"),
            ("B", "none"),
            ("C", "10.0.0.1,web.local"),
        ]);
        assert_eq!(env.ip_list("A", "").unwrap().len(), 2);
        assert!(env.ip_list("B", "127.0.0.1").unwrap().is_empty());
        assert_eq!(env.ip_list("UNSET", "127.0.0.1,::1").unwrap().len(), 2);
        let e = env.ip_list("C", "").unwrap_err();
        assert_eq!(e.name, "C");
        assert!(e.reason.contains("web.local"));
    }

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-3s").is_err());
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("64KiB").unwrap(), 64 << 10);
        assert_eq!(parse_bytes("1048576").unwrap(), 1 << 20);
        assert!(parse_bytes("99999999999999999999GiB").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("mysql://video:secret@127.0.0.1:3306/video"),
            "mysql://video:***@127.0.0.1:3306/video"
        );
        assert_eq!(redact_url("mysql://root@h/db"), "mysql://root@h/db");
    }

    #[test]
    fn storage_is_local_unless_s3_is_asked_for() {
        let c = StorageConfig::from_env(&Env::from_pairs(&[])).unwrap();
        assert!(matches!(&c.backend, Backend::Local(dir) if dir == &PathBuf::from("var/storage")));
        assert_eq!(c.scratch_dir, PathBuf::from("var/storage/tmp"));
        let c = StorageConfig::from_env(&Env::from_pairs(&[
            ("STORAGE_BACKEND", "s3"),
            ("S3_BUCKET", "videos"),
            ("S3_PREFIX", "/site"),
            ("S3_ENDPOINT", "http://127.0.0.1:9000/"),
            ("AWS_ACCESS_KEY_ID", "key"),
            ("AWS_SECRET_ACCESS_KEY", "s3cret"),
            ("SCRATCH_DIR", "/srv/scratch"),
        ]))
        .unwrap();
        let Backend::S3(s3) = &c.backend else {
            panic!("not s3: {c:?}");
        };
        assert_eq!(s3.bucket, "videos");
        assert_eq!(s3.prefix, "site/");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region, "us-east-1");
        assert_eq!(s3.part_size, 8 << 20);
        assert_eq!(c.scratch_dir, PathBuf::from("/srv/scratch"));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn bad_storage_settings_name_their_variable() {
        let name = |pairs: &[(&str, &str)]| {
            StorageConfig::from_env(&Env::from_pairs(pairs))
                .unwrap_err()
                .name
        };
        assert_eq!(name(&[("STORAGE_BACKEND", "ftp")]), "STORAGE_BACKEND");
        assert_eq!(name(&[("STORAGE_BACKEND", "s3")]), "S3_BUCKET");
        let s3 = [("STORAGE_BACKEND", "s3"), ("S3_BUCKET", "b")];
        assert_eq!(
            name(&[s3[0], s3[1], ("S3_ENDPOINT", "minio:9000")]),
            "S3_ENDPOINT"
        );
        assert_eq!(
            name(&[s3[0], s3[1], ("S3_PART_SIZE", "1MiB")]),
            "S3_PART_SIZE"
        );
        assert_eq!(name(&[s3[0], s3[1], ("S3_PREFIX", "a/../b")]), "S3_PREFIX");
    }
}
