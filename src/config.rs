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
    /// HTTP worker threads (0: one per core).
    pub workers: usize,
    /// Read connections in the pool.
    pub read_pool_size: u32,
    /// The most write commands the writer groups into one transaction.
    pub max_batch: usize,
    /// Admin page: minutes without activity after which a session is signed out.
    pub admin_idle_timeout_minutes: u32,
    /// Admin page: hours after sign-in at which a session ends, active or not.
    pub admin_session_hours: u32,
    pub faces: BTreeMap<String, FaceSettings>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaceSettings {
    pub enabled: bool,
    /// Path prefix the face is served under (its vendor's default when unset).
    pub base_path: Option<String>,
}

impl Default for FaceSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            base_path: None,
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
            workers: 0,
            read_pool_size: 8,
            max_batch: 256,
            admin_idle_timeout_minutes: 15,
            admin_session_hours: 12,
            faces: FACE_NAMES
                .iter()
                .map(|n| (n.to_string(), FaceSettings::default()))
                .collect(),
        }
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
    ("PARLOR_WORKERS", "workers"),
    ("PARLOR_READ_POOL_SIZE", "read_pool_size"),
    ("PARLOR_MAX_BATCH", "max_batch"),
    (
        "PARLOR_ADMIN_IDLE_TIMEOUT_MINUTES",
        "admin_idle_timeout_minutes",
    ),
    ("PARLOR_ADMIN_SESSION_HOURS", "admin_session_hours"),
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
        Self::from_sources(&text, &env)
    }

    /// `toml_text` layered over the defaults, then `env` (name, value) pairs over that.
    pub fn from_sources(toml_text: &str, env: &[(String, String)]) -> Result<Settings> {
        let mut table: toml::Table = toml::from_str(toml_text)
            .map_err(|e| Error::invalid("config", e.message().to_string()))?;
        for (name, value) in env {
            let Some(key) = env_key(name) else {
                return Err(Error::invalid(
                    name.clone(),
                    "unknown PARLOR_ environment variable",
                ));
            };
            apply_env(&mut table, &key, value);
        }
        let mut settings: Settings = Settings::deserialize(toml::Value::Table(table))
            .map_err(|e| Error::invalid("config", e.message().to_string()))?;
        // A [faces.x] table in the file replaces the default entry; faces not named stay on.
        for name in FACE_NAMES {
            settings.faces.entry(name.to_string()).or_default();
        }
        settings.validate()?;
        Ok(settings)
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
        if self.max_batch == 0 {
            return Err(Error::invalid("max_batch", "must be at least 1"));
        }
        if matches!(&self.admin_token, Some(t) if t.len() < 16) {
            return Err(Error::invalid(
                "admin_token",
                "must be at least 16 characters",
            ));
        }
        Ok(())
    }

    pub fn face(&self, name: &str) -> FaceSettings {
        self.faces.get(name).cloned().unwrap_or_default()
    }
}

/// `PARLOR_FACES_MDLIVE_ENABLED` → `faces.mdlive.enabled`; the fixed names in `ENV_VARS`.
fn env_key(name: &str) -> Option<Vec<String>> {
    if let Some((_, key)) = ENV_VARS.iter().find(|(n, _)| *n == name) {
        return Some(vec![key.to_string()]);
    }
    let rest = name.strip_prefix("PARLOR_FACES_")?.to_ascii_lowercase();
    let face = FACE_NAMES
        .iter()
        .find(|f| rest.starts_with(&format!("{f}_")))?;
    let field = &rest[face.len() + 1..];
    matches!(field, "enabled" | "base_path")
        .then(|| vec!["faces".into(), face.to_string(), field.to_string()])
}

/// Sets `path` in the table to `raw`, typed as the setting expects (a value of the wrong type
/// is left as a string so that deserializing names the setting).
fn apply_env(table: &mut toml::Table, path: &[String], raw: &str) {
    let last = path.last().map(String::as_str).unwrap_or_default();
    let value = match (last, raw.parse::<bool>(), raw.parse::<i64>()) {
        ("demo" | "enabled" | "synchronous_off_confirmed" | "read_only_if_damaged", Ok(b), _) => {
            toml::Value::Boolean(b)
        }
        (
            "body_limit"
            | "startup_check_seconds"
            | "token_ttl_minutes"
            | "workers"
            | "read_pool_size"
            | "max_batch"
            | "admin_idle_timeout_minutes"
            | "admin_session_hours",
            _,
            Ok(n),
        ) => toml::Value::Integer(n),
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

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = Settings::from_sources("bnid = \"x\"", &[]).unwrap_err();
        assert!(e.to_string().contains("bnid"), "{e}");
        let e = Settings::from_sources("[faces.skype]\nenabled = true", &[]).unwrap_err();
        assert!(e.to_string().contains("faces.skype"), "{e}");
        let e = Settings::from_sources("", &[("PARLOR_NOPE".into(), "1".into())]).unwrap_err();
        assert!(e.to_string().contains("PARLOR_NOPE"), "{e}");
        let e = Settings::from_sources("synchronous = \"sometimes\"", &[]).unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
    }
}
