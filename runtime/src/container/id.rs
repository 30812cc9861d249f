//! `ContainerId`: a container's id, 64 lowercase hex digits, parsed once where it enters
//! (a new id, a record, a store directory name) and then passed around typed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A container's id. It shows (Display, serde) as the plain 64-digit string, as Docker's
/// `Id`; [`ContainerId::short`] is the 12-digit form of `ps` and the default hostname.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId(String);

/// A string that is not a container id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid container id {0:?}: expected 64 lowercase hex digits")]
pub struct InvalidContainerId(pub String);

impl ContainerId {
    /// A new random id.
    pub fn random() -> ContainerId {
        let mut b = [0u8; 32];
        crate::fsutil::random_bytes(&mut b);
        ContainerId(crate::digest::to_hex(&b))
    }

    /// `s` as an id, if it is 64 lowercase hex digits.
    pub fn parse(s: &str) -> Result<ContainerId, InvalidContainerId> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(ContainerId(s.to_string()))
        } else {
            Err(InvalidContainerId(s.to_string()))
        }
    }

    /// The full 64 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 digits, as `docker ps` shows an id.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl std::str::FromStr for ContainerId {
    type Err = InvalidContainerId;
    fn from_str(s: &str) -> Result<ContainerId, InvalidContainerId> {
        ContainerId::parse(s)
    }
}

/// An id reads as its string wherever a `&str` is taken (paths, lookups, messages).
impl std::ops::Deref for ContainerId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ContainerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<std::path::Path> for ContainerId {
    fn as_ref(&self) -> &std::path::Path {
        self.0.as_ref()
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl PartialEq<str> for ContainerId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ContainerId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for ContainerId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<ContainerId> for str {
    fn eq(&self, other: &ContainerId) -> bool {
        self == other.0
    }
}

impl PartialEq<ContainerId> for &str {
    fn eq(&self, other: &ContainerId) -> bool {
        *self == other.0
    }
}

impl PartialEq<ContainerId> for String {
    fn eq(&self, other: &ContainerId) -> bool {
        *self == other.0
    }
}

impl From<ContainerId> for String {
    fn from(id: ContainerId) -> String {
        id.0
    }
}

impl Serialize for ContainerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ContainerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ContainerId, D::Error> {
        let s = String::deserialize(d)?;
        ContainerId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_64_lowercase_hex_digits_only() {
        let id = ContainerId::parse(ID).unwrap();
        assert_eq!(id.as_str(), ID);
        assert_eq!(id.short(), "0123456789ab");
        assert_eq!(id.to_string(), ID);
        for bad in [
            "",
            "0123",
            &ID.to_uppercase(),
            &format!("{ID}0"),
            &ID.replace('a', "g"),
        ] {
            let e = ContainerId::parse(bad).unwrap_err();
            assert!(e.to_string().contains("64 lowercase hex digits"), "{e}");
        }
    }

    #[test]
    fn serde_is_the_plain_string() {
        let id = ContainerId::parse(ID).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{ID}\""));
        assert_eq!(serde_json::from_str::<ContainerId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<ContainerId>("\"c1\"").is_err());
    }

    #[test]
    fn random_ids_are_valid_and_differ() {
        let (a, b) = (ContainerId::random(), ContainerId::random());
        assert_eq!(ContainerId::parse(&a).unwrap(), a);
        assert_ne!(a, b);
    }
}
