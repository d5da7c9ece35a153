//! Sysctl key names and values as users write them and as the kernel shows them.
//!
//! A key is a list of components. sysctl.d(5) spells it two ways: with `.`
//! separators, where a `/` inside a component stands for a literal dot (the
//! VLAN interface `eth0.100` is `net.ipv4.conf.eth0/100.rp_filter`), or, when
//! the first separator is `/`, with `/` separators throughout and dots kept
//! literally. Every component is checked against a strict grammar here,
//! before any path under `/proc/sys` is built from it, so no key can name
//! `..`, an absolute path or a control character. Values are compared token
//! by token because the kernel separates `ip_local_port_range` with a tab
//! while people write a space.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key `{0}` has an empty component")]
    EmptyComponent(String),
    #[error("the key `{0}` has a component `.` or `..`")]
    DotComponent(String),
    #[error("the key `{key}` contains the character {ch:?}, which no sysctl name contains")]
    BadCharacter { key: String, ch: char },
}

/// A validated sysctl key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    components: Vec<String>,
}

impl Key {
    /// Parses a key in either sysctl.d(5) spelling.
    pub fn parse(text: &str) -> Result<Key, KeyError> {
        split_components(text, is_key_char).map(|components| Key { components })
    }

    /// The key's path relative to `/proc/sys`.
    pub fn relative_path(&self) -> PathBuf {
        self.components.iter().collect()
    }

    /// The components, dots inside them kept literally.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// Whether the key lives under `net.` (the only tree tcptune manages).
    pub fn is_net(&self) -> bool {
        self.components.first().is_some_and(|first| first == "net")
    }

    /// The last component (`tcp_fin_timeout` for `net.ipv4.tcp_fin_timeout`).
    pub fn leaf(&self) -> &str {
        self.components.last().map_or("", String::as_str)
    }
}

/// Splits a key (or, with a wider `allowed`, a glob) into components by the
/// sysctl.d(5) rule: the first separator decides the spelling. Every
/// component is checked, so none can be empty, `.`, `..`, or hold a
/// character outside `allowed`.
pub(crate) fn split_components(
    text: &str,
    allowed: fn(char) -> bool,
) -> Result<Vec<String>, KeyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    let slash_separated = text
        .find(['.', '/'])
        .is_some_and(|at| text[at..].starts_with('/'));
    let components: Vec<String> = if slash_separated {
        text.split('/').map(str::to_owned).collect()
    } else {
        text.split('.').map(|part| part.replace('/', ".")).collect()
    };
    for component in &components {
        if component.is_empty() {
            return Err(KeyError::EmptyComponent(text.to_owned()));
        }
        if component == "." || component == ".." {
            return Err(KeyError::DotComponent(text.to_owned()));
        }
        if let Some(ch) = component.chars().find(|ch| !allowed(*ch)) {
            return Err(KeyError::BadCharacter {
                key: text.to_owned(),
                ch,
            });
        }
    }
    Ok(components)
}

/// Characters that appear in sysctl names under `net.`, including interface
/// names (letters, digits, `_`, `-`, `.`, `@`, `:`, `+`). Anything else,
/// whitespace and control characters above all, is refused.
fn is_key_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | '@' | ':' | '+')
}

impl fmt::Display for Key {
    /// The canonical dotted spelling, with `/` for a dot inside a component.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, component) in self.components.iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            f.write_str(&component.replace('.', "/"))?;
        }
        Ok(())
    }
}

impl Serialize for Key {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Key {
    /// A key read back (from a journal record) is validated like one typed.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        let text = String::deserialize(deserializer)?;
        Key::parse(&text).map_err(|error| {
            serde::de::Error::custom(format!(
                "names the key {text:?}, which tcptune does not manage ({error})"
            ))
        })
    }
}

/// A sysctl value as a list of whitespace-separated tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value {
    tokens: Vec<String>,
}

impl Value {
    /// Splits text the way the kernel and sysctl(8) do: on any whitespace.
    pub fn parse(text: &str) -> Value {
        Value {
            tokens: text.split_whitespace().map(str::to_owned).collect(),
        }
    }

    pub fn from_tokens(tokens: Vec<String>) -> Value {
        Value { tokens }
    }

    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The tokens as integers, when every token is one.
    pub fn integers(&self) -> Option<Vec<i64>> {
        self.tokens.iter().map(|token| token.parse().ok()).collect()
    }

    /// The value when it is a single integer.
    pub fn as_integer(&self) -> Option<i64> {
        match self.tokens.as_slice() {
            [only] => only.parse().ok(),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tokens.join(" "))
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        String::deserialize(deserializer).map(|text| Value::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_key_maps_to_proc_path() {
        let key = Key::parse("net.ipv4.tcp_fin_timeout").unwrap();
        assert_eq!(
            key.relative_path(),
            PathBuf::from("net/ipv4/tcp_fin_timeout")
        );
        assert_eq!(key.to_string(), "net.ipv4.tcp_fin_timeout");
    }

    #[test]
    fn slash_inside_dotted_key_is_a_literal_dot() {
        let key = Key::parse("net.ipv4.conf.eth0/100.rp_filter").unwrap();
        assert_eq!(
            key.relative_path(),
            PathBuf::from("net/ipv4/conf/eth0.100/rp_filter")
        );
        assert_eq!(key.to_string(), "net.ipv4.conf.eth0/100.rp_filter");
    }

    #[test]
    fn slash_separated_key_keeps_dots() {
        let key = Key::parse("net/ipv4/conf/eth0.100/rp_filter").unwrap();
        assert_eq!(key, Key::parse("net.ipv4.conf.eth0/100.rp_filter").unwrap());
    }

    #[test]
    fn traversal_and_control_characters_are_refused() {
        assert!(matches!(
            Key::parse("net/../../etc/passwd"),
            Err(KeyError::DotComponent(_))
        ));
        assert!(matches!(
            Key::parse("net..ipv4"),
            Err(KeyError::EmptyComponent(_))
        ));
        assert!(matches!(
            Key::parse("/net/ipv4"),
            Err(KeyError::EmptyComponent(_))
        ));
        assert!(matches!(
            Key::parse("net.ipv4.a\nb"),
            Err(KeyError::BadCharacter { .. })
        ));
        assert!(matches!(
            Key::parse("net.ipv4.a\0b"),
            Err(KeyError::BadCharacter { .. })
        ));
        assert_eq!(Key::parse("  "), Err(KeyError::Empty));
    }

    #[test]
    fn values_compare_token_by_token() {
        assert_eq!(Value::parse("32768\t60999"), Value::parse("32768 60999"));
        assert_eq!(Value::parse(" 1\n"), Value::parse("1"));
        assert_ne!(Value::parse("1"), Value::parse("2"));
        assert_eq!(
            Value::parse("4096 131072 6291456").integers(),
            Some(vec![4096, 131072, 6291456])
        );
        assert_eq!(Value::parse("cubic").as_integer(), None);
    }
}
