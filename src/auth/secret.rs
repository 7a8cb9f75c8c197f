//! Machine secrets: bearer tokens and API secrets. They are random (≥ 128 bits, made by
//! `domain::Ids::secret`), so a fast hash is enough: the store keeps their SHA-256 and looks
//! them up by it. argon2 never runs on this per-request path.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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
        let ids = crate::domain::Ids::random();
        let a = ids.secret("plr_");
        let b = ids.secret("plr_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert!(matches(&a, &digest(&a)));
        assert!(!matches(&b, &digest(&a)));
    }
}
