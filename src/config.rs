//! Typed settings. Precedence: defaults in code < TOML file (`--config`) < `PARLOR_*`
//! environment variables < command-line flags (applied by `main.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Synchronous;

/// The face names `[faces.<name>]` accepts.
pub const FACE_NAMES: &[&str] = &["mdlive", "trillet", "respondent", "tati", "pigeons"];

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address and port to listen on.
    pub bind: String,
    /// The SQLite database file.
    pub db: PathBuf,
    /// `PRAGMA synchronous` for writes: `full` (default, survives power loss), `normal`, `off`
    /// (may lose recent messages and may corrupt the file on power loss).
    pub synchronous: Synchronous,
    /// Accept `synchronous = "off"` for a database whose data was not loaded from the demo
    /// or a fixture.
    pub synchronous_off_confirmed: bool,
    /// Seconds the start-up quick check of the database file may take (0: no check).
    pub startup_check_seconds: u32,
    /// Serve a damaged database file read-only instead of refusing to start.
    pub read_only_if_damaged: bool,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Secret for signing JWTs (MDLIVE face). Unset: one is generated and kept in the database.
    pub jwt_secret: Option<String>,
    /// Lifetime of issued JWTs, in minutes.
    pub token_ttl_minutes: u32,
    /// A server-admin token accepted in addition to those made by `parlor init`.
    pub admin_token: Option<String>,
    /// Load the built-in demo data at start (into an empty database).
    pub demo: bool,
    /// Serve the stand-in control plane under `/__parlor/` (also on with `--demo` or
    /// `--fixture`).
    pub stand_in: bool,
    /// The most sandboxes a stand-in keeps open; past it the least recently used is closed.
    pub stand_in_sandboxes: usize,
    /// The stand-in's request journal keeps at most this many entries (the oldest go first).
    pub journal_max_rows: u64,
    /// ... and its file at most this many bytes.
    pub journal_max_bytes: u64,
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Read connections in the pool; 0: two per CPU core, at most eight.
    pub read_pool_size: u32,
    /// The most write commands the writer groups into one transaction.
    pub max_batch: usize,
    /// Admin page: minutes without activity after which a session is signed out.
    pub admin_idle_timeout_minutes: u32,
    /// Admin page: hours after sign-in at which a session ends, active or not.
    pub admin_session_hours: u32,
    /// Lock out a client address and name after repeated wrong passwords, on every surface.
    pub password_throttle: bool,
    /// The audit trail: every access to the native API and the faces is recorded. Turn off
    /// only for a stand-in test suite that holds no real patient data.
    pub audit: bool,
    /// Days audit entries are kept before the retention sweep removes them (six years).
    pub audit_retention_days: u32,
    /// Hours the event log keeps a change for streams that reconnect (`Last-Event-ID`).
    pub events_retention_hours: u32,
    /// Let webhooks go to private, loopback, link-local and shared (CGNAT) addresses.
    pub webhook_allow_private: bool,
    /// Longest wait, in seconds, for an endpoint to answer one delivery attempt.
    pub webhook_timeout_seconds: u32,
    /// The waits before each retry of a failed delivery ("5s 5m 30m 2h 5h 10h 10h").
    pub webhook_retry_schedule: String,
    /// Days the outbox keeps finished deliveries and their attempts.
    pub webhook_outbox_days: u32,
    /// Longest wait, in seconds, for the next part of a request body before answering 408.
    pub body_read_timeout_seconds: u32,
    /// Longest time, in seconds, a whole request body may take before answering 408.
    pub body_timeout_seconds: u32,
    /// Prometheus metrics at `/metrics` on this address of their own (never the public port),
    /// e.g. "127.0.0.1:9464". Unset: no metrics.
    pub metrics_bind: Option<String>,
    /// The log's lines: "text" for people, "json" (one object a line) for log shippers.
    pub log_format: LogFormat,
    /// Reads that may wait for a database connection; past it requests get 503 + Retry-After.
    pub read_queue_depth: usize,
    /// Password checks and hashes that may wait for a CPU thread; past it, 503 + Retry-After.
    pub password_queue_depth: usize,
    /// Built-in TLS: the certificate chain (PEM, leaf first); set with `tls_key` or not at all.
    /// Reloaded without a restart when the file changes.
    pub tls_cert: Option<PathBuf>,
    /// Built-in TLS: the private key (PEM) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Run the retention sweep inside the server: first some minutes after start, then daily.
    pub retention_sweep: bool,
    /// Encryption at rest: the file holding the database's SQLCipher key (64 hex characters,
    /// readable by its owner only, not in the database's directory). Unset: a plain database,
    /// or an encrypted one whose key is at the default place `parlor init` uses.
    pub encryption_key_file: Option<PathBuf>,
    /// The address people reach Parlor at (`https://messages.clinic.example`): the base of
    /// invite and reset links (and of links in e-mail notices). Unset: the address the admin's
    /// request came to.
    pub public_url: Option<String>,
    /// E-mail notices of new messages: the SMTP server (lettre's URL syntax). Unset: none.
    pub smtp_url: Option<String>,
    /// E-mail notices: the From address, required with `smtp_url`.
    pub smtp_from: Option<String>,
    /// E-mail notices: seconds a message must stay unread before its recipient is told.
    pub notice_delay_seconds: u32,
    /// Scheduled backups: how often a verified copy is made ("6h", "30m", "1d"). Unset: none.
    pub backup_every: Option<String>,
    /// Where scheduled backups go. Unset: a `backups` directory beside the database file.
    pub backup_dir: Option<PathBuf>,
    /// Scheduled backups: the newest copies always kept.
    pub backup_keep_last: u32,
    /// Scheduled backups: beyond those, the first copy of each hour for this many hours.
    pub backup_keep_hourly_for_hours: u32,
    /// Scheduled backups: beyond those, the first copy of each day for this many days.
    pub backup_keep_daily_for_days: u32,
    /// Who checkpoints the WAL: `parlor` (default) or `external` (Litestream owns them).
    pub checkpoints: crate::store::Checkpoints,
    /// `/readyz` fails when one write has kept the writer busy for this many seconds.
    pub writer_stuck_seconds: u32,
    /// Attachments: the largest file accepted, in bytes.
    pub attachment_max_bytes: u64,
    /// Attachments: the most bytes of files one tenant may keep; 0: no quota.
    pub attachment_quota_bytes: u64,
    /// Attachments: hours after which an uploaded file no message carries is removed.
    pub attachment_unsent_hours: u32,
    pub faces: BTreeMap<String, FaceSettings>,
}

/// How log lines are written (`log_format`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaceSettings {
    pub enabled: bool,
    /// Path prefix the face is served under (its vendor's default when unset).
    pub base_path: Option<String>,
    /// Browser origins (`scheme://host[:port]`, or "*") the face answers CORS requests for, as
    /// its vendor's framework does; none: CORS off.
    pub cors_origins: Vec<String>,
}

impl Default for FaceSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            base_path: None,
            cors_origins: Vec::new(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            db: PathBuf::from("./parlor.db"),
            synchronous: Synchronous::Full,
            synchronous_off_confirmed: false,
            startup_check_seconds: 10,
            read_only_if_damaged: false,
            body_limit: 256 * 1024,
            jwt_secret: None,
            token_ttl_minutes: 60,
            admin_token: None,
            demo: false,
            stand_in: false,
            stand_in_sandboxes: 32,
            journal_max_rows: 100_000,
            journal_max_bytes: 256 * 1024 * 1024,
            workers: 0,
            read_pool_size: 0,
            max_batch: 256,
            admin_idle_timeout_minutes: 15,
            admin_session_hours: 12,
            password_throttle: true,
            audit: true,
            audit_retention_days: 2190,
            events_retention_hours: 72,
            webhook_allow_private: false,
            webhook_timeout_seconds: 10,
            webhook_retry_schedule: "5s 5m 30m 2h 5h 10h 10h".into(),
            webhook_outbox_days: 30,
            body_read_timeout_seconds: 10,
            body_timeout_seconds: 30,
            metrics_bind: None,
            log_format: LogFormat::Text,
            read_queue_depth: crate::store::DEFAULT_READ_QUEUE_DEPTH,
            password_queue_depth: crate::service::DEFAULT_PASSWORD_QUEUE_DEPTH,
            tls_cert: None,
            tls_key: None,
            retention_sweep: true,
            encryption_key_file: None,
            public_url: None,
            smtp_url: None,
            smtp_from: None,
            notice_delay_seconds: 120,
            backup_every: None,
            backup_dir: None,
            backup_keep_last: 3,
            backup_keep_hourly_for_hours: 24,
            backup_keep_daily_for_days: 30,
            checkpoints: crate::store::Checkpoints::Parlor,
            writer_stuck_seconds: 30,
            attachment_max_bytes: 25 * 1024 * 1024,
            attachment_quota_bytes: 10 * 1024 * 1024 * 1024,
            attachment_unsent_hours: 24,
            faces: FACE_NAMES
                .iter()
                .map(|n| (n.to_string(), FaceSettings::default()))
                .collect(),
        }
    }
}

/// `http(s)://host[:port][/path]`: where links to Parlor start.
pub fn is_public_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split('/').next().unwrap_or("");
            !host.is_empty()
                && !rest.ends_with('/')
                && !rest.contains(['?', '#', ' ', '@'])
                && !rest.chars().any(char::is_control)
        }
        None => false,
    }
}

/// Environment variables and the setting each one overrides.
pub const ENV_VARS: &[(&str, &str)] = &[
    ("PARLOR_BIND", "bind"),
    ("PARLOR_DB", "db"),
    ("PARLOR_SYNCHRONOUS", "synchronous"),
    (
        "PARLOR_SYNCHRONOUS_OFF_CONFIRMED",
        "synchronous_off_confirmed",
    ),
    ("PARLOR_STARTUP_CHECK_SECONDS", "startup_check_seconds"),
    ("PARLOR_READ_ONLY_IF_DAMAGED", "read_only_if_damaged"),
    ("PARLOR_BODY_LIMIT", "body_limit"),
    ("PARLOR_JWT_SECRET", "jwt_secret"),
    ("PARLOR_TOKEN_TTL_MINUTES", "token_ttl_minutes"),
    ("PARLOR_ADMIN_TOKEN", "admin_token"),
    ("PARLOR_DEMO", "demo"),
    ("PARLOR_STAND_IN", "stand_in"),
    ("PARLOR_STAND_IN_SANDBOXES", "stand_in_sandboxes"),
    ("PARLOR_JOURNAL_MAX_ROWS", "journal_max_rows"),
    ("PARLOR_JOURNAL_MAX_BYTES", "journal_max_bytes"),
    ("PARLOR_WORKERS", "workers"),
    ("PARLOR_READ_POOL_SIZE", "read_pool_size"),
    ("PARLOR_MAX_BATCH", "max_batch"),
    (
        "PARLOR_ADMIN_IDLE_TIMEOUT_MINUTES",
        "admin_idle_timeout_minutes",
    ),
    ("PARLOR_ADMIN_SESSION_HOURS", "admin_session_hours"),
    ("PARLOR_PASSWORD_THROTTLE", "password_throttle"),
    (
        "PARLOR_BODY_READ_TIMEOUT_SECONDS",
        "body_read_timeout_seconds",
    ),
    ("PARLOR_BODY_TIMEOUT_SECONDS", "body_timeout_seconds"),
    ("PARLOR_METRICS_BIND", "metrics_bind"),
    ("PARLOR_LOG_FORMAT", "log_format"),
    ("PARLOR_READ_QUEUE_DEPTH", "read_queue_depth"),
    ("PARLOR_PASSWORD_QUEUE_DEPTH", "password_queue_depth"),
    ("PARLOR_AUDIT", "audit"),
    ("PARLOR_AUDIT_RETENTION_DAYS", "audit_retention_days"),
    ("PARLOR_EVENTS_RETENTION_HOURS", "events_retention_hours"),
    ("PARLOR_WEBHOOK_ALLOW_PRIVATE", "webhook_allow_private"),
    ("PARLOR_WEBHOOK_TIMEOUT_SECONDS", "webhook_timeout_seconds"),
    ("PARLOR_WEBHOOK_RETRY_SCHEDULE", "webhook_retry_schedule"),
    ("PARLOR_WEBHOOK_OUTBOX_DAYS", "webhook_outbox_days"),
    ("PARLOR_TLS_CERT", "tls_cert"),
    ("PARLOR_TLS_KEY", "tls_key"),
    ("PARLOR_RETENTION_SWEEP", "retention_sweep"),
    ("PARLOR_ENCRYPTION_KEY_FILE", "encryption_key_file"),
    ("PARLOR_PUBLIC_URL", "public_url"),
    ("PARLOR_SMTP_URL", "smtp_url"),
    ("PARLOR_SMTP_FROM", "smtp_from"),
    ("PARLOR_NOTICE_DELAY_SECONDS", "notice_delay_seconds"),
    ("PARLOR_BACKUP_EVERY", "backup_every"),
    ("PARLOR_BACKUP_DIR", "backup_dir"),
    ("PARLOR_BACKUP_KEEP_LAST", "backup_keep_last"),
    (
        "PARLOR_BACKUP_KEEP_HOURLY_FOR_HOURS",
        "backup_keep_hourly_for_hours",
    ),
    (
        "PARLOR_BACKUP_KEEP_DAILY_FOR_DAYS",
        "backup_keep_daily_for_days",
    ),
    ("PARLOR_CHECKPOINTS", "checkpoints"),
    ("PARLOR_WRITER_STUCK_SECONDS", "writer_stuck_seconds"),
    ("PARLOR_ATTACHMENT_MAX_BYTES", "attachment_max_bytes"),
    ("PARLOR_ATTACHMENT_QUOTA_BYTES", "attachment_quota_bytes"),
    ("PARLOR_ATTACHMENT_UNSENT_HOURS", "attachment_unsent_hours"),
];

impl Settings {
    /// Defaults, then the TOML file if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                Error::invalid("config", format!("cannot read {}: {e}", path.display()))
            })?,
            None => String::new(),
        };
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("PARLOR_"))
            .collect();
        let (settings, warnings) = Self::from_sources_noting(&text, &env)?;
        for warning in warnings {
            tracing::warn!("{warning}");
        }
        Ok(settings)
    }

    /// `toml_text` layered over the defaults, then `env` (name, value) pairs over that.
    pub fn from_sources(toml_text: &str, env: &[(String, String)]) -> Result<Settings> {
        Ok(Self::from_sources_noting(toml_text, env)?.0)
    }

    /// `from_sources`, with a warning for each `PARLOR_` variable that names no setting.
    /// Wrapper scripts and CI jobs carry variables of their own under the prefix (`PARLOR_BIN`),
    /// so those are ignored; an unknown key in the file, which is Parlor's alone, is an error.
    pub fn from_sources_noting(
        toml_text: &str,
        env: &[(String, String)],
    ) -> Result<(Settings, Vec<String>)> {
        let mut table: toml::Table = toml::from_str(toml_text)
            .map_err(|e| Error::invalid("config", e.message().to_string()))?;
        let mut warnings = Vec::new();
        for (name, value) in env {
            match env_key(name) {
                Some(key) => apply_env(&mut table, &key, value),
                None => warnings.push(format!(
                    "{name}: not a Parlor setting, ignored (the closest known variable is {})",
                    closest_env_var(name)
                )),
            }
        }
        let mut settings: Settings = Settings::deserialize(toml::Value::Table(table))
            .map_err(|e| Error::invalid("config", e.message().to_string()))?;
        // A [faces.x] table in the file replaces the default entry; faces not named stay on.
        for name in FACE_NAMES {
            settings.faces.entry(name.to_string()).or_default();
        }
        settings.validate()?;
        Ok((settings, warnings))
    }

    pub fn validate(&self) -> Result<()> {
        if let Some(unknown) = self
            .faces
            .keys()
            .find(|k| !FACE_NAMES.contains(&k.as_str()))
        {
            return Err(Error::invalid(
                format!("faces.{unknown}"),
                format!("unknown face; expected one of {}", FACE_NAMES.join(", ")),
            ));
        }
        for (name, face) in &self.faces {
            if let Some(base) = &face.base_path {
                if !base.starts_with('/') || (base.len() > 1 && base.ends_with('/')) {
                    return Err(Error::invalid(
                        format!("faces.{name}.base_path"),
                        "must start with '/' and not end with '/'",
                    ));
                }
            }
            if let Some(bad) = face.cors_origins.iter().find(|o| !is_origin(o)) {
                return Err(Error::invalid(
                    format!("faces.{name}.cors_origins"),
                    format!(
                        "{bad:?} is not an origin: give scheme://host[:port] with no path or \
                         trailing slash, or \"*\""
                    ),
                ));
            }
        }
        if let Some(url) = &self.public_url {
            if !is_public_url(url) {
                return Err(Error::invalid(
                    "public_url",
                    format!(
                        "{url:?} is not a base address: give http(s)://host[:port][/path], \
                         without a query, a fragment or a trailing slash"
                    ),
                ));
            }
        }
        if self.body_limit < 1024 {
            return Err(Error::invalid("body_limit", "must be at least 1024 bytes"));
        }
        if self.token_ttl_minutes == 0 {
            return Err(Error::invalid("token_ttl_minutes", "must be at least 1"));
        }
        if self.admin_idle_timeout_minutes == 0 {
            return Err(Error::invalid(
                "admin_idle_timeout_minutes",
                "must be at least 1",
            ));
        }
        if self.admin_session_hours == 0 {
            return Err(Error::invalid("admin_session_hours", "must be at least 1"));
        }
        if self.journal_max_rows == 0 {
            return Err(Error::invalid("journal_max_rows", "must be at least 1"));
        }
        if self.journal_max_bytes < 1024 * 1024 {
            return Err(Error::invalid(
                "journal_max_bytes",
                "must be at least 1048576 (1 MiB): one entry may hold 128 KiB of bodies",
            ));
        }
        if self.attachment_max_bytes == 0 {
            return Err(Error::invalid(
                "attachment_max_bytes",
                "must be at least 1 byte",
            ));
        }
        if self.attachment_unsent_hours == 0 {
            return Err(Error::invalid(
                "attachment_unsent_hours",
                "must be at least 1 hour",
            ));
        }
        if self.max_batch == 0 {
            return Err(Error::invalid("max_batch", "must be at least 1"));
        }
        if self.stand_in_sandboxes == 0 {
            return Err(Error::invalid("stand_in_sandboxes", "must be at least 1"));
        }
        for (key, value) in [
            (
                "body_read_timeout_seconds",
                self.body_read_timeout_seconds as usize,
            ),
            ("body_timeout_seconds", self.body_timeout_seconds as usize),
            ("read_queue_depth", self.read_queue_depth),
            ("password_queue_depth", self.password_queue_depth),
            (
                "webhook_timeout_seconds",
                self.webhook_timeout_seconds as usize,
            ),
            ("webhook_outbox_days", self.webhook_outbox_days as usize),
            ("backup_keep_last", self.backup_keep_last as usize),
            ("writer_stuck_seconds", self.writer_stuck_seconds as usize),
        ] {
            if value == 0 {
                return Err(Error::invalid(key, "must be at least 1"));
            }
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => {
                return Err(Error::invalid(
                    "tls_key",
                    "is not set while tls_cert is: give both (built-in TLS) or neither",
                ))
            }
            (None, Some(_)) => {
                return Err(Error::invalid(
                    "tls_cert",
                    "is not set while tls_key is: give both (built-in TLS) or neither",
                ))
            }
            _ => {}
        }
        // Port 0 is any free port, a different one for each listener.
        let same_port = |m: &str| m.trim() == self.bind.trim() && !m.trim().ends_with(":0");
        if self.metrics_bind.as_deref().is_some_and(same_port) {
            return Err(Error::invalid(
                "metrics_bind",
                "must differ from bind: metrics are never served on the public port",
            ));
        }
        crate::webhooks::parse_schedule(&self.webhook_retry_schedule)?;
        crate::backups::every(self)?;
        crate::notices::configure(self)?;
        if matches!(&self.admin_token, Some(t) if t.len() < 16) {
            return Err(Error::invalid(
                "admin_token",
                "must be at least 16 characters",
            ));
        }
        Ok(())
    }

    /// The certificate and key files when built-in TLS is on.
    pub fn tls_files(&self) -> Option<crate::http::TlsFiles> {
        Some(crate::http::TlsFiles {
            cert: self.tls_cert.clone()?,
            key: self.tls_key.clone()?,
        })
    }

    pub fn face(&self, name: &str) -> FaceSettings {
        self.faces.get(name).cloned().unwrap_or_default()
    }
}

/// Whether `text` can be an allowed origin: "*", or `scheme://host[:port]` with nothing after
/// it (browsers send origins without a path or a trailing slash, so such an entry would never
/// match).
fn is_origin(text: &str) -> bool {
    if text == "*" {
        return true;
    }
    let Some((scheme, host)) = text.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    scheme_ok
        && !host.is_empty()
        && !host.contains(['/', '?', '#', ' ', '*'])
        && text.chars().all(|c| c.is_ascii_graphic())
}

/// `PARLOR_FACES_MDLIVE_ENABLED` → `faces.mdlive.enabled` (also `_BASE_PATH`,
/// `_CORS_ORIGINS`); the fixed names in `ENV_VARS`.
fn env_key(name: &str) -> Option<Vec<String>> {
    if let Some((_, key)) = ENV_VARS.iter().find(|(n, _)| *n == name) {
        return Some(vec![key.to_string()]);
    }
    let rest = name.strip_prefix("PARLOR_FACES_")?.to_ascii_lowercase();
    let face = FACE_NAMES
        .iter()
        .find(|f| rest.starts_with(&format!("{f}_")))?;
    let field = &rest[face.len() + 1..];
    matches!(field, "enabled" | "base_path" | "cors_origins")
        .then(|| vec!["faces".into(), face.to_string(), field.to_string()])
}

/// Every variable Parlor reads.
pub fn env_var_names() -> Vec<String> {
    let mut names: Vec<String> = ENV_VARS.iter().map(|(n, _)| n.to_string()).collect();
    for face in FACE_NAMES {
        for field in ["ENABLED", "BASE_PATH"] {
            names.push(format!(
                "PARLOR_FACES_{}_{field}",
                face.to_ascii_uppercase()
            ));
        }
    }
    names
}

/// The known variable nearest to `name` by edit distance (the first of equals, in
/// `env_var_names` order).
fn closest_env_var(name: &str) -> String {
    env_var_names()
        .into_iter()
        .min_by_key(|known| edit_distance(name, known))
        .unwrap_or_default()
}

/// Levenshtein distance: single-character insertions, deletions and substitutions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Sets `path` in the table to `raw`, typed as the setting's default is (a boolean, a number, a
/// comma-separated list); a value of the wrong type is left as a string so that deserializing
/// names the setting. Typing from the defaults keeps every new setting settable from the
/// environment without a list to keep in step.
fn apply_env(table: &mut toml::Table, path: &[String], raw: &str) {
    let defaults = toml::Table::try_from(Settings::default()).unwrap_or_default();
    let mut default = None;
    let mut level = &defaults;
    for (i, key) in path.iter().enumerate() {
        match level.get(key) {
            Some(toml::Value::Table(t)) if i + 1 < path.len() => level = t,
            Some(v) if i + 1 == path.len() => default = Some(v),
            _ => break,
        }
    }
    let value = match default {
        Some(toml::Value::Boolean(_)) => raw.parse::<bool>().map_or_else(
            |_| toml::Value::String(raw.to_string()),
            toml::Value::Boolean,
        ),
        Some(toml::Value::Integer(_)) => raw.parse::<i64>().map_or_else(
            |_| toml::Value::String(raw.to_string()),
            toml::Value::Integer,
        ),
        // A list in one variable: comma-separated.
        Some(toml::Value::Array(_)) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(|o| toml::Value::String(o.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    };
    let mut current = table;
    for (i, key) in path.iter().enumerate() {
        if i + 1 == path.len() {
            current.insert(key.clone(), value);
            return;
        }
        let entry = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        match entry {
            toml::Value::Table(t) => current = t,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_which_overrides_defaults() {
        let s = Settings::from_sources(
            "bind = \"0.0.0.0:9000\"\nbody_limit = 4096\n[faces.tati]\nbase_path = \"/tati\"\n",
            &[
                ("PARLOR_BIND".into(), "127.0.0.1:7000".into()),
                ("PARLOR_FACES_MDLIVE_ENABLED".into(), "false".into()),
            ],
        )
        .unwrap();
        assert_eq!(s.bind, "127.0.0.1:7000");
        assert_eq!(s.body_limit, 4096);
        assert_eq!(s.face("tati").base_path.as_deref(), Some("/tati"));
        assert!(!s.face("mdlive").enabled);
        assert!(s.face("pigeons").enabled);
        assert_eq!(s.db, PathBuf::from("./parlor.db"));
    }

    /// Every boolean and numeric setting can be set from its variable (`PARLOR_AUDIT=false`
    /// was once taken as the text "false").
    #[test]
    fn every_variable_sets_its_setting_with_its_type() {
        let defaults = toml::Table::try_from(Settings::default()).unwrap();
        for name in env_var_names() {
            let key = env_key(&name).unwrap();
            let mut level = &defaults;
            let mut default = None;
            for (i, k) in key.iter().enumerate() {
                match level.get(k) {
                    Some(toml::Value::Table(t)) if i + 1 < key.len() => level = t,
                    Some(v) if i + 1 == key.len() => default = Some(v.clone()),
                    _ => break,
                }
            }
            let raw = match default {
                Some(toml::Value::Boolean(b)) => (!b).to_string(),
                Some(toml::Value::Integer(n)) => (n + 1).to_string(),
                _ => continue,
            };
            let parsed = Settings::from_sources("", &[(name.clone(), raw.clone())]);
            assert!(parsed.is_ok(), "{name}={raw}: {:?}", parsed.err());
        }
        let s = Settings::from_sources(
            "",
            &[
                ("PARLOR_AUDIT".into(), "false".into()),
                ("PARLOR_AUDIT_RETENTION_DAYS".into(), "3000".into()),
            ],
        )
        .unwrap();
        assert!(!s.audit);
        assert_eq!(s.audit_retention_days, 3000);
    }

    #[test]
    fn cors_origins_are_scheme_host_and_port_only() {
        for ok in ["*", "http://localhost:3000", "https://app.example.com"] {
            assert!(is_origin(ok), "{ok}");
        }
        for bad in [
            "",
            "localhost:3000",
            "http://localhost:3000/",
            "http://",
            "https://*.example.com",
            "http://a b",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = Settings::from_sources("bnid = \"x\"", &[]).unwrap_err();
        assert!(e.to_string().contains("bnid"), "{e}");
        let e = Settings::from_sources("[faces.skype]\nenabled = true", &[]).unwrap_err();
        assert!(e.to_string().contains("faces.skype"), "{e}");
        let e = Settings::from_sources("synchronous = \"sometimes\"", &[]).unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
    }

    #[test]
    fn unknown_environment_variables_are_ignored_with_the_closest_named() {
        let (s, warnings) = Settings::from_sources_noting(
            "",
            &[
                ("PARLOR_BIN".into(), "/usr/local/bin/parlor".into()),
                ("PARLOR_BIND".into(), "127.0.0.1:7000".into()),
                ("PARLOR_FACES_TATI_ENABLE".into(), "false".into()),
            ],
        )
        .unwrap();
        assert_eq!(s.bind, "127.0.0.1:7000");
        assert!(s.face("tati").enabled);
        assert_eq!(
            warnings,
            [
                "PARLOR_BIN: not a Parlor setting, ignored (the closest known variable is \
                 PARLOR_BIND)",
                "PARLOR_FACES_TATI_ENABLE: not a Parlor setting, ignored (the closest known \
                 variable is PARLOR_FACES_TATI_ENABLED)",
            ]
        );
        let (_, warnings) = Settings::from_sources_noting("", &[]).unwrap();
        assert!(warnings.is_empty());
    }

    #[test]
    fn edit_distance_counts_single_character_changes() {
        assert_eq!(edit_distance("PARLOR_BIN", "PARLOR_BIND"), 1);
        assert_eq!(edit_distance("PARLOR_DB", "PARLOR_DB"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
