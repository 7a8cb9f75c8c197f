//! Built-in TLS (`tls_cert`, `tls_key`): the rustls configuration the server hands each
//! handshake, and the certificate it presents, reloaded when the files change.
//!
//! Why a poller thread rather than a look at the files on each handshake: a `stat` is a
//! blocking call, and actix workers make none; a thread that looks every `POLL` seconds costs
//! two `stat`s per poll whatever the traffic, and a renewal (certbot runs twice a day) is
//! picked up within seconds. A new file that does not load (half written, a key that does not
//! match, garbage) leaves the certificate in use as it is and logs a warning; the next change
//! to either file is tried again, so a certificate written before its key goes live once the
//! key follows.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, SystemTime};

use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::error::{Error, Result};

/// How often the certificate and key files are looked at for a change.
const POLL: Duration = Duration::from_secs(2);

/// The PEM files of `tls_cert` (the certificate chain, leaf first) and `tls_key`.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The server's TLS configuration, with the files' certificate loaded and watched from now on.
/// Fails, naming the setting, when either file is missing, unreadable or not what it should be.
pub fn server_config(files: TlsFiles) -> Result<Arc<ServerConfig>> {
    let provider = Arc::new(ring::default_provider());
    let seen = Stamp::of(&files);
    let first =
        load(&files, &provider).map_err(|(setting, message)| Error::invalid(setting, message))?;
    let resolver = Arc::new(Reloading {
        current: RwLock::new(Arc::new(first)),
    });
    let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(Error::internal)?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    // Parlor speaks HTTP/1.1 only; saying so lets a client that offers h2 settle at once.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let watched = Arc::downgrade(&resolver);
    std::thread::Builder::new()
        .name("parlor-tls-reload".into())
        .spawn(move || watch(files, seen, watched, provider))
        .map_err(Error::internal)?;
    Ok(Arc::new(config))
}

/// The certificate every new handshake gets; swapped whole on a reload, so a handshake sees
/// the old pair or the new one, never a mix.
#[derive(Debug)]
struct Reloading {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(|p| p.into_inner()),
        ))
    }
}

/// Until the server is gone (its configuration, and with it the resolver, dropped): on each
/// change to either file, load the pair and put it in use, or warn and keep the old one.
fn watch(
    files: TlsFiles,
    mut seen: Stamp,
    resolver: Weak<Reloading>,
    provider: Arc<CryptoProvider>,
) {
    loop {
        std::thread::sleep(POLL);
        let Some(resolver) = resolver.upgrade() else {
            return;
        };
        let now = Stamp::of(&files);
        if now == seen {
            continue;
        }
        seen = now;
        match load(&files, &provider) {
            Ok(key) => {
                *resolver.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
                tracing::info!(
                    "TLS certificate reloaded from {} and {}",
                    files.cert.display(),
                    files.key.display()
                );
            }
            Err((setting, message)) => tracing::warn!(
                "{setting}: {message}; new connections keep the certificate loaded before"
            ),
        }
    }
}

/// What `stat` says of both files (following links, as certbot's `live/` files are): a change
/// in either one's modification time or size is a change.
#[derive(PartialEq)]
struct Stamp([Option<(SystemTime, u64)>; 2]);

impl Stamp {
    fn of(files: &TlsFiles) -> Stamp {
        let stat = |path: &Path| {
            fs::metadata(path)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        };
        Stamp([stat(&files.cert), stat(&files.key)])
    }
}

type LoadError = (&'static str, String);

/// The certificate chain and key of `files`, checked to belong together.
fn load(
    files: &TlsFiles,
    provider: &CryptoProvider,
) -> std::result::Result<CertifiedKey, LoadError> {
    let read = |setting: &'static str, path: &Path| {
        fs::read(path).map_err(|e| (setting, format!("cannot read {}: {e}", path.display())))
    };
    let cert_pem = read("tls_cert", &files.cert)?;
    let key_pem = read("tls_key", &files.key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            (
                "tls_cert",
                format!(
                    "{} is not a PEM certificate chain: {e}",
                    files.cert.display()
                ),
            )
        })?;
    if chain.is_empty() {
        return Err((
            "tls_cert",
            format!(
                "{} holds no certificate (no \"-----BEGIN CERTIFICATE-----\" block)",
                files.cert.display()
            ),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        (
            "tls_key",
            format!(
                "{} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}",
                files.key.display()
            ),
        )
    })?;
    let signer = provider.key_provider.load_private_key(key).map_err(|e| {
        (
            "tls_key",
            format!(
                "{} is not a supported private key: {e}",
                files.key.display()
            ),
        )
    })?;
    let certified = CertifiedKey::new(chain, signer);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
            Ok(certified)
        }
        Err(rustls::Error::InconsistentKeys(_)) => Err((
            "tls_key",
            format!(
                "{} is not the key of the certificate in {}",
                files.key.display(),
                files.cert.display()
            ),
        )),
        Err(e) => Err((
            "tls_cert",
            format!("{} is not a valid certificate: {e}", files.cert.display()),
        )),
    }
}
