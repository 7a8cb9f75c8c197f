//! HS256 JSON Web Tokens, as MDLIVE issues them: an API token for a tenant's API key and a
//! user token for one patient. Signed with the server secret (`jwt_secret`, or one generated
//! on first start and kept in the database). Expiry is checked against Parlor's clock, not the
//! system's, so a frozen clock in tests and stand-ins governs tokens too.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::{TenantId, UserId};
use crate::error::{Error, Result};

/// What a token speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// A tenant's API key (by its id): MDLIVE's "API token".
    ApiKey(i64),
    /// One user of the tenant: MDLIVE's "user token".
    User(UserId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    pub tenant: TenantId,
    pub subject: Subject,
    /// Unix seconds.
    pub expires_at: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// Tenant id.
    tid: i64,
    /// "api" or "user".
    typ: String,
    iat: i64,
    exp: i64,
}

/// Why a presented token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a token of ours: malformed, another algorithm, another secret, unknown claims.
    Invalid,
    Expired,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A token for `subject` in `tenant`, valid for `ttl_minutes` from `now_ms`.
    pub fn issue(
        &self,
        tenant: TenantId,
        subject: Subject,
        now_ms: i64,
        ttl_minutes: u32,
    ) -> Result<String> {
        let (typ, sub) = match subject {
            Subject::ApiKey(id) => ("api", id),
            Subject::User(user) => ("user", user.0),
        };
        let iat = now_ms.div_euclid(1000);
        let claims = Claims {
            sub: sub.to_string(),
            tid: tenant.0,
            typ: typ.to_string(),
            iat,
            exp: iat + i64::from(ttl_minutes) * 60,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(Error::internal)
    }

    /// Checks the signature (HS256 only) and the expiry against `now_ms`.
    pub fn verify(&self, token: &str, now_ms: i64) -> std::result::Result<Verified, Refusal> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is ours to check, on Parlor's clock.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let claims = decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| Refusal::Invalid)?
            .claims;
        let id: i64 = claims.sub.parse().map_err(|_| Refusal::Invalid)?;
        let subject = match claims.typ.as_str() {
            "api" => Subject::ApiKey(id),
            "user" => Subject::User(UserId(id)),
            _ => return Err(Refusal::Invalid),
        };
        if claims.exp <= now_ms.div_euclid(1000) {
            return Err(Refusal::Expired);
        }
        Ok(Verified {
            tenant: TenantId(claims.tid),
            subject,
            expires_at: claims.exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_with_their_secret_only_and_expire_on_the_given_clock() {
        let keys = JwtKeys::new(b"one secret");
        let now = 1_700_000_000_000;
        let token = keys
            .issue(TenantId(3), Subject::User(UserId(52)), now, 60)
            .unwrap();
        let ok = keys.verify(&token, now).unwrap();
        assert_eq!(ok.tenant, TenantId(3));
        assert_eq!(ok.subject, Subject::User(UserId(52)));
        assert_eq!(ok.expires_at, now / 1000 + 3600);
        assert_eq!(keys.verify(&token, now + 3_600_000), Err(Refusal::Expired));
        assert_eq!(
            JwtKeys::new(b"another secret").verify(&token, now),
            Err(Refusal::Invalid)
        );
        assert_eq!(keys.verify("not.a.jwt", now), Err(Refusal::Invalid));
    }
}
