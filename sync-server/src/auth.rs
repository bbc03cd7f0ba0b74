//! Authorization: which documents a peer may read or write, from an HS256 JWT it presents when
//! it connects (an `Authorization: Bearer` header, or a WebSocket subprotocol `token.<JWT>`;
//! never the URL, which proxies log).
//!
//! Invariant: without a secret configured every peer has write access to every document (the
//! relay says so in its log and refuses to do this on a public address, see [`crate::config`]);
//! with a secret, a peer holds exactly what a valid, unexpired token grants, and nothing when its
//! token is missing, forged or expired. Grants are checked on every join and every write, so a
//! token that expires during a connection stops granting. The claims follow the usual JWT
//! practice (RFC 7519 `exp`, a resource pattern and a scope), as Liveblocks' and Y-Sweet's tokens do.

use std::time::{SystemTime, UNIX_EPOCH};

use crdt_core::sync::DocId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// What a token allows on the documents it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Receive changes and presence; send presence; no changes.
    Read,
    /// Everything.
    Write,
}

/// The claims of a relay token.
///
/// `doc` is a document id, `*` for every document, or a prefix followed by `*`
/// (`team-1/*` names every document whose id starts with `team-1/`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The document id or pattern.
    pub doc: String,
    /// What the bearer may do.
    pub access: Access,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
}

impl Claims {
    /// Whether `doc` matches this token's pattern.
    pub fn covers(&self, doc: &DocId) -> bool {
        match self.doc.strip_suffix('*') {
            Some(prefix) => doc.as_str().starts_with(prefix),
            None => self.doc == doc.as_str(),
        }
    }
}

/// Why a token is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The relay needs a token and none was presented.
    #[error(
        "this relay requires a token: send `Authorization: Bearer <JWT>` or the WebSocket \
         subprotocol `token.<JWT>`"
    )]
    Missing,
    /// The token came in the URL (`?token=`), where proxies and access logs keep it.
    #[error(
        "tokens in the URL are refused (proxies log URLs): send `Authorization: Bearer <JWT>` \
         or the WebSocket subprotocol `token.<JWT>` instead, and replace the token, which may \
         have been logged"
    )]
    TokenInUrl,
    /// The token is expired.
    #[error("the token expired")]
    Expired,
    /// The token is malformed or its signature is wrong.
    #[error("invalid token: {0}")]
    Invalid(String),
}

/// What one connection may do; made once per connection by [`Authorizer::grant`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// No secret is configured: everything is allowed.
    Open,
    /// A valid token's claims.
    Token(Claims),
}

impl Grant {
    /// What the bearer may do on `doc` now: `Ok(None)` when the token does not name it,
    /// `Err(Expired)` once the token has expired.
    pub fn access(&self, doc: &DocId) -> Result<Option<Access>, AuthError> {
        match self {
            Grant::Open => Ok(Some(Access::Write)),
            Grant::Token(claims) => {
                if claims.exp <= unix_now() {
                    return Err(AuthError::Expired);
                }
                Ok(claims.covers(doc).then_some(claims.access))
            }
        }
    }

    /// When the grant stops granting: the token's `exp`; `None` for an open relay (or an `exp`
    /// too far to represent, which never comes).
    pub fn expires_at(&self) -> Option<SystemTime> {
        match self {
            Grant::Open => None,
            Grant::Token(claims) => {
                UNIX_EPOCH.checked_add(std::time::Duration::from_secs(claims.exp))
            }
        }
    }
}

/// Checks tokens against the configured secret.
///
/// ```
/// use sync_server::auth::{Access, Authorizer, Claims};
/// use crdt_core::sync::DocId;
/// let auth = Authorizer::new(Some("secret"));
/// let token = auth.issue(&Claims { doc: "team/*".into(), access: Access::Read, exp: u64::MAX / 2 }).unwrap();
/// let grant = auth.grant(Some(&token)).unwrap();
/// assert_eq!(grant.access(&DocId::new("team/notes").unwrap()).unwrap(), Some(Access::Read));
/// assert_eq!(grant.access(&DocId::new("other").unwrap()).unwrap(), None);
/// assert!(Authorizer::new(Some("another secret")).grant(Some(&token)).is_err());
/// ```
#[derive(Clone)]
pub struct Authorizer {
    keys: Option<(EncodingKey, DecodingKey)>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("requires_token", &self.requires_token())
            .finish()
    }
}

impl Authorizer {
    /// An authorizer for `secret`, or an open one without.
    pub fn new(secret: Option<&str>) -> Self {
        Authorizer {
            keys: secret.map(|s| {
                (
                    EncodingKey::from_secret(s.as_bytes()),
                    DecodingKey::from_secret(s.as_bytes()),
                )
            }),
        }
    }

    /// Whether peers must present a token.
    pub fn requires_token(&self) -> bool {
        self.keys.is_some()
    }

    /// The grant of a connection that presented `token`.
    pub fn grant(&self, token: Option<&str>) -> Result<Grant, AuthError> {
        let Some((_, decoding)) = &self.keys else {
            return Ok(Grant::Open);
        };
        let token = token.ok_or(AuthError::Missing)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp"]);
        match jsonwebtoken::decode::<Claims>(token, decoding, &validation) {
            Ok(data) => Ok(Grant::Token(data.claims)),
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                Err(AuthError::Expired)
            }
            Err(e) => Err(AuthError::Invalid(e.to_string())),
        }
    }

    /// Signs `claims` (for tests and for the app server that hands tokens out).
    pub fn issue(&self, claims: &Claims) -> Result<String, AuthError> {
        let Some((encoding, _)) = &self.keys else {
            return Err(AuthError::Invalid("no secret configured".into()));
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, encoding)
            .map_err(|e| AuthError::Invalid(e.to_string()))
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> DocId {
        DocId::new(s).unwrap()
    }

    fn claims(pattern: &str, access: Access, exp: u64) -> Claims {
        Claims {
            doc: pattern.into(),
            access,
            exp,
        }
    }

    #[test]
    fn patterns_cover_exact_ids_prefixes_and_everything() {
        let far = unix_now() + 3600;
        assert!(claims("a/b", Access::Read, far).covers(&doc("a/b")));
        assert!(!claims("a/b", Access::Read, far).covers(&doc("a/bc")));
        assert!(claims("a/*", Access::Read, far).covers(&doc("a/bc")));
        assert!(!claims("a/*", Access::Read, far).covers(&doc("b/a")));
        assert!(claims("*", Access::Read, far).covers(&doc("anything")));
    }

    #[test]
    fn open_relay_grants_write_everywhere() {
        let auth = Authorizer::new(None);
        assert!(!auth.requires_token());
        let grant = auth.grant(None).unwrap();
        assert_eq!(grant.access(&doc("x")).unwrap(), Some(Access::Write));
        assert!(auth.issue(&claims("x", Access::Write, 1)).is_err());
    }

    #[test]
    fn tokens_are_checked() {
        let auth = Authorizer::new(Some("s3cret"));
        let far = unix_now() + 3600;
        assert!(matches!(auth.grant(None), Err(AuthError::Missing)));
        assert!(matches!(
            auth.grant(Some("garbage")),
            Err(AuthError::Invalid(_))
        ));
        let token = auth.issue(&claims("d", Access::Write, far)).unwrap();
        let grant = auth.grant(Some(&token)).unwrap();
        assert_eq!(grant.access(&doc("d")).unwrap(), Some(Access::Write));
        assert_eq!(grant.access(&doc("e")).unwrap(), None);
        // Tampering with the payload breaks the signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged_token = auth.issue(&claims("*", Access::Write, far)).unwrap();
        let forged_payload = forged_token.split('.').nth(1).unwrap().to_string();
        parts[1] = &forged_payload;
        assert!(matches!(
            auth.grant(Some(&parts.join("."))),
            Err(AuthError::Invalid(_))
        ));
        let wrong = Authorizer::new(Some("other")).issue(&claims("*", Access::Write, far));
        assert!(matches!(
            auth.grant(Some(&wrong.unwrap())),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn expired_tokens_are_refused_and_grants_expire() {
        let auth = Authorizer::new(Some("s3cret"));
        let old = auth.issue(&claims("d", Access::Write, 1000)).unwrap();
        assert!(matches!(auth.grant(Some(&old)), Err(AuthError::Expired)));
        let expired = Grant::Token(claims("d", Access::Write, unix_now() - 1));
        assert!(matches!(expired.access(&doc("d")), Err(AuthError::Expired)));
    }
}
