//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`, where the
//! key is the base64-decoded part of the endpoint's `whsec_` secret.

use crate::domain::Ids;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";
/// Bytes of key in a new secret (the specification asks for 24 to 64).
const KEY_BYTES: usize = 32;

/// A new `whsec_` secret from the service's source (the operating system's generator unless a
/// stand-in was seeded).
pub fn new_secret(ids: &Ids) -> String {
    let mut key = [0u8; KEY_BYTES];
    ids.fill(&mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// One signature, `v1,<base64>`; None when the secret is not a `whsec_` secret (Parlor makes
/// every secret it stores, so that is a bug, not a client's mistake).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` value: one signature per key, space separated.
pub fn signature_header(keys: &[&str], id: &str, timestamp: i64, body: &str) -> String {
    keys.iter()
        .filter_map(|k| sign(k, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference implementations.
    #[test]
    fn matches_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn a_new_secret_signs() {
        let s = new_secret(&Ids::random());
        assert!(s.starts_with(PREFIX));
        assert_eq!(
            STANDARD.decode(&s[PREFIX.len()..]).map(|k| k.len()).ok(),
            Some(32)
        );
        assert!(sign(&s, "a", 1, "b").is_some());
    }
}
