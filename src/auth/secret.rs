//! Machine secrets: bearer tokens and API secrets. They are random (≥ 128 bits), so a fast hash
//! is enough: the store keeps their SHA-256 and looks them up by it. argon2 never runs on this
//! per-request path.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new random secret: 32 bytes as 64 lowercase hex characters, after a readable prefix.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compares a presented secret with a stored digest in constant time.
pub fn matches(secret: &str, stored_digest: &[u8]) -> bool {
    digest(secret).ct_eq(stored_digest).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_long_and_distinct() {
        let a = generate("plr_");
        let b = generate("plr_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(matches(&a, &digest(&a)));
        assert!(!matches(&b, &digest(&a)));
    }
}
