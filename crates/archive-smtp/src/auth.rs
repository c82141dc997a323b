//! SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms.
//!
//! Passwords are never stored: the configuration contains argon2 hashes as
//! PHC strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`), and a login
//! is checked by hashing the offered password with the salt and parameters
//! of the stored hash. Passwords are never logged.

use std::collections::HashMap;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::UserEntry;

/// The users who may authenticate, with their password hashes.
pub struct Users {
    hashes: HashMap<String, String>,
    /// A hash with the parameters of a configured user, checked when the
    /// user name is unknown so that the reply takes as long as for a known
    /// name.
    decoy: Option<String>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("names", &self.hashes.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// A configured user that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The hash is not an argon2 PHC string.
    #[error(
        "password hash of user {name:?} is not an argon2 PHC string ($argon2id$v=19$...); create one with `sentmail serve --hash-password`"
    )]
    InvalidHash {
        /// The user name.
        name: String,
    },
    /// The name is empty or listed twice.
    #[error("user name {name:?} is empty or listed twice")]
    InvalidName {
        /// The user name.
        name: String,
    },
}

/// A failure of an AUTH exchange before the password check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The client sent `*` to cancel.
    #[error("authentication cancelled by the client")]
    Cancelled,
    /// The response is not valid base64 or not of the mechanism's form.
    #[error("malformed authentication response: {0}")]
    Malformed(&'static str),
}

/// Credentials that a client offered.
pub struct Credentials {
    /// The authentication identity (user name).
    pub user: String,
    password: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Creates credentials from a user name and password.
    pub fn new(user: String, password: Vec<u8>) -> Credentials {
        Credentials { user, password }
    }
}

impl Users {
    /// Checks every entry's hash and builds the user table.
    pub fn new(entries: &[UserEntry]) -> Result<Users, UsersError> {
        let mut hashes = HashMap::new();
        for entry in entries {
            let parsed = PasswordHash::new(&entry.password_hash);
            let valid = parsed.as_ref().is_ok_and(|hash| {
                hash.algorithm.as_str().starts_with("argon2") && Params::try_from(hash).is_ok()
            });
            if !valid {
                return Err(UsersError::InvalidHash {
                    name: entry.name.clone(),
                });
            }
            if entry.name.is_empty() || hashes.contains_key(&entry.name) {
                return Err(UsersError::InvalidName {
                    name: entry.name.clone(),
                });
            }
            hashes.insert(entry.name.clone(), entry.password_hash.clone());
        }
        let decoy = entries
            .first()
            .map(|entry| decoy_hash(&entry.password_hash));
        Ok(Users { hashes, decoy })
    }

    /// Returns true when no user is configured (AUTH is not offered).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Checks the credentials. This runs argon2, which takes milliseconds
    /// of CPU by design; call it on a blocking thread.
    pub fn verify(&self, credentials: &Credentials) -> bool {
        match self.hashes.get(&credentials.user) {
            Some(hash) => check(hash, &credentials.password),
            None => {
                if let Some(decoy) = &self.decoy {
                    check(decoy, &credentials.password);
                }
                false
            }
        }
    }
}

fn check(hash: &str, password: &[u8]) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|hash| Argon2::default().verify_password(password, &hash).is_ok())
}

/// Hashes a fixed text with the algorithm and parameters of `template`.
fn decoy_hash(template: &str) -> String {
    let hash = PasswordHash::new(template).expect("hashes were checked");
    let params = Params::try_from(&hash).expect("parameters were checked");
    let algorithm = argon2::Algorithm::try_from(hash.algorithm).unwrap_or_default();
    let hasher = Argon2::new(algorithm, argon2::Version::V0x13, params);
    let salt = SaltString::generate(&mut OsRng);
    hasher
        .hash_password(b"decoy password never accepted", &salt)
        .expect("argon2 hashes with checked parameters")
        .to_string()
}

/// Hashes a password with argon2id and the crate's default parameters
/// (19 MiB of memory, 2 passes) and a random salt, as a PHC string for the
/// configuration file.
pub fn hash_password(password: &[u8]) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password, &salt)
        .expect("argon2 with default parameters accepts any password")
        .to_string()
}

/// Decodes one base64 response line of an AUTH exchange. `*` cancels and
/// `=` is an empty response.
pub fn decode_response(line: &str) -> Result<Vec<u8>, AuthError> {
    let line = line.trim();
    match line {
        "*" => Err(AuthError::Cancelled),
        "=" => Ok(Vec::new()),
        _ => STANDARD
            .decode(line)
            .map_err(|_| AuthError::Malformed("not valid base64")),
    }
}

/// Decodes a PLAIN response: `authzid NUL authcid NUL password`. The
/// authorization identity must be empty or equal to the user name.
pub fn decode_plain(line: &str) -> Result<Credentials, AuthError> {
    let bytes = decode_response(line)?;
    let mut parts = bytes.split(|&b| b == 0);
    let (Some(authzid), Some(authcid), Some(password), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "PLAIN needs authzid, user and password",
        ));
    };
    let user = String::from_utf8(authcid.to_vec())
        .map_err(|_| AuthError::Malformed("user name is not UTF-8"))?;
    if !authzid.is_empty() && authzid != authcid {
        return Err(AuthError::Malformed(
            "authorization identity differs from the user name",
        ));
    }
    Ok(Credentials::new(user, password.to_vec()))
}

/// Decodes the user name line of a LOGIN exchange.
pub fn decode_login_user(line: &str) -> Result<String, AuthError> {
    String::from_utf8(decode_response(line)?)
        .map_err(|_| AuthError::Malformed("user name is not UTF-8"))
}

/// The LOGIN challenge for the user name: base64 of `Username:`.
pub const LOGIN_USER_CHALLENGE: &str = "VXNlcm5hbWU6";
/// The LOGIN challenge for the password: base64 of `Password:`.
pub const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters, so tests in debug builds stay fast.
    fn cheap_hash(password: &[u8]) -> String {
        let params = Params::new(8, 1, 1, None).unwrap();
        let hasher = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        hasher.hash_password(password, &salt).unwrap().to_string()
    }

    fn users() -> Users {
        Users::new(&[UserEntry {
            name: "postfix".into(),
            password_hash: cheap_hash(b"correct horse"),
        }])
        .unwrap()
    }

    #[test]
    fn verify_accepts_only_right_password() {
        let users = users();
        assert!(users.verify(&Credentials::new(
            "postfix".into(),
            b"correct horse".to_vec()
        )));
        assert!(!users.verify(&Credentials::new("postfix".into(), b"wrong".to_vec())));
        assert!(!users.verify(&Credentials::new(
            "nobody".into(),
            b"correct horse".to_vec()
        )));
    }

    #[test]
    fn invalid_hash_is_rejected() {
        let error = Users::new(&[UserEntry {
            name: "a".into(),
            password_hash: "{SHA}abc".into(),
        }])
        .unwrap_err();
        assert!(matches!(error, UsersError::InvalidHash { .. }));
    }

    #[test]
    fn duplicate_name_is_rejected() {
        let entry = UserEntry {
            name: "a".into(),
            password_hash: cheap_hash(b"x"),
        };
        let error = Users::new(&[entry.clone(), entry]).unwrap_err();
        assert!(matches!(error, UsersError::InvalidName { .. }));
    }

    #[test]
    fn hash_password_gives_argon2id_phc() {
        let hash = hash_password(b"secret");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(check(&hash, b"secret"));
    }

    #[test]
    fn plain_response_forms() {
        // "\0alice\0secret" and "alice\0alice\0secret".
        let plain = decode_plain("AGFsaWNlAHNlY3JldA==").unwrap();
        assert_eq!(plain.user, "alice");
        assert_eq!(plain.password, b"secret");
        assert_eq!(
            decode_plain("YWxpY2UAYWxpY2UAc2VjcmV0").unwrap().user,
            "alice"
        );
        assert_eq!(
            decode_plain("Ym9iAGFsaWNlAHNlY3JldA==").unwrap_err(),
            AuthError::Malformed("authorization identity differs from the user name")
        );
        assert_eq!(
            decode_plain("YWxpY2U=").unwrap_err(),
            AuthError::Malformed("PLAIN needs authzid, user and password")
        );
        assert_eq!(decode_plain("*").unwrap_err(), AuthError::Cancelled);
        assert_eq!(
            decode_plain("!!!").unwrap_err(),
            AuthError::Malformed("not valid base64")
        );
    }

    #[test]
    fn login_challenges_decode_to_prompts() {
        assert_eq!(STANDARD.decode(LOGIN_USER_CHALLENGE).unwrap(), b"Username:");
        assert_eq!(
            STANDARD.decode(LOGIN_PASSWORD_CHALLENGE).unwrap(),
            b"Password:"
        );
        assert_eq!(decode_login_user("cG9zdGZpeA==").unwrap(), "postfix");
        assert_eq!(decode_response("=").unwrap(), b"");
    }

    #[test]
    fn credentials_debug_hides_password() {
        let credentials = Credentials::new("alice".into(), b"secret".to_vec());
        assert_eq!(
            format!("{credentials:?}"),
            "Credentials { user: \"alice\", .. }"
        );
    }
}
