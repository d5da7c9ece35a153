//! Kernel release numbers, for version gates ("only on 5.4 and later") and
//! for knowing whether a key was added or removed before the running kernel.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// `major.minor.patch` of a kernel release; vendor suffixes are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KernelVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> KernelVersion {
        KernelVersion {
            major,
            minor,
            patch,
        }
    }

    /// Reads the leading numbers of a release such as `6.18.44-fc-v509` or
    /// `4.9.0-19-amd64`; at least `major.minor` must be there.
    pub fn from_release(release: &str) -> Option<KernelVersion> {
        let numeric_end = release
            .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
            .unwrap_or(release.len());
        let mut parts = release[..numeric_end]
            .split('.')
            .filter(|part| !part.is_empty());
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = parts.next().and_then(|part| part.parse().ok()).unwrap_or(0);
        Some(KernelVersion::new(major, minor, patch))
    }
}

impl FromStr for KernelVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<KernelVersion, String> {
        let valid = !text.is_empty()
            && text
                .split('.')
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
        let count = text.split('.').count();
        if !valid || !(2..=3).contains(&count) {
            return Err(format!(
                "`{text}` is not a kernel version such as `5.4` or `4.12.0`"
            ));
        }
        KernelVersion::from_release(text).ok_or_else(|| format!("`{text}` is not a kernel version"))
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_with_suffixes() {
        assert_eq!(
            KernelVersion::from_release("6.18.44-fc-v509"),
            Some(KernelVersion::new(6, 18, 44))
        );
        assert_eq!(
            KernelVersion::from_release("4.9.0-19-amd64"),
            Some(KernelVersion::new(4, 9, 0))
        );
        assert_eq!(
            KernelVersion::from_release("5.15"),
            Some(KernelVersion::new(5, 15, 0))
        );
        assert_eq!(
            KernelVersion::from_release("6.1-rc3"),
            Some(KernelVersion::new(6, 1, 0))
        );
        assert_eq!(KernelVersion::from_release("garbage"), None);
    }

    #[test]
    fn versions_order_numerically() {
        assert!(KernelVersion::new(4, 12, 0) > KernelVersion::new(4, 9, 140));
        assert!(KernelVersion::new(6, 14, 0) > KernelVersion::new(6, 2, 0));
    }

    #[test]
    fn profile_spelling_is_strict() {
        assert_eq!(
            "4.12".parse::<KernelVersion>(),
            Ok(KernelVersion::new(4, 12, 0))
        );
        assert!("4".parse::<KernelVersion>().is_err());
        assert!("4.x".parse::<KernelVersion>().is_err());
        assert!("4.12-rc1".parse::<KernelVersion>().is_err());
    }
}
