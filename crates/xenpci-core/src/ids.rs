//! Typed identifiers for the things xenpci talks about besides PCI functions: Xen domains
//! ([`DomId`]) and XAPI VMs ([`VmUuid`]). Each round-trips through Display/FromStr.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Xen domain id (0 is dom0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DomId(pub u32);

/// Why a text is not an identifier of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Not a decimal domain id.
    #[error("invalid domain id {0:?}: expected a decimal number such as 5")]
    DomId(String),
    /// Not a UUID.
    #[error("invalid UUID {0:?}: expected 8-4-4-4-12 hex digits, e.g. 3f1a9c2e-0b7d-4c1e-9a55-2d6f0e8b4c11")]
    Uuid(String),
}

impl fmt::Display for DomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for DomId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<DomId, IdError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::DomId(s.to_string()));
        }
        s.parse()
            .map(DomId)
            .map_err(|_| IdError::DomId(s.to_string()))
    }
}

/// A XAPI object UUID (VM, host, PCI ...), stored in lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VmUuid(String);

impl VmUuid {
    /// The UUID text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for VmUuid {
    type Error = IdError;
    fn try_from(s: String) -> Result<VmUuid, IdError> {
        s.parse()
    }
}

impl From<VmUuid> for String {
    fn from(u: VmUuid) -> String {
        u.0
    }
}

/// True when `s` has the 8-4-4-4-12 hex layout of a UUID.
pub fn looks_like_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl FromStr for VmUuid {
    type Err = IdError;
    fn from_str(s: &str) -> Result<VmUuid, IdError> {
        if looks_like_uuid(s) {
            Ok(VmUuid(s.to_ascii_lowercase()))
        } else {
            Err(IdError::Uuid(s.to_string()))
        }
    }
}

impl fmt::Display for VmUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        assert_eq!("17".parse::<DomId>().unwrap().to_string(), "17");
        assert!("-1".parse::<DomId>().is_err());
        assert!("dom1"
            .parse::<DomId>()
            .unwrap_err()
            .to_string()
            .contains("\"dom1\""));
        let u = "3F1A9C2E-0B7D-4C1E-9A55-2D6F0E8B4C11"
            .parse::<VmUuid>()
            .unwrap();
        assert_eq!(u.to_string(), "3f1a9c2e-0b7d-4c1e-9a55-2d6f0e8b4c11");
        assert!("3f1a9c2e-0b7d-4c1e-9a55".parse::<VmUuid>().is_err());
    }
}
