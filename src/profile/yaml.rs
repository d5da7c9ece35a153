//! The YAML layer of profile loading: the only code that knows serde-saphyr.
//!
//! A profile is first read into a tree of [`Node`]s that remember where each
//! value stood (line and column), and validated afterwards by hand. Reading
//! straight into typed structs would stop at the first mistake; the tree lets
//! validation report every mistake of a file at once, each with its position.
//! Only YAML 1.2 booleans count as booleans (`yes`, `on` stay strings), and
//! the parser's budget limits input size, nesting and alias expansion.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

/// A position in a YAML file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

impl Position {
    fn from_location(location: &Location) -> Position {
        Position {
            line: location.line(),
            column: location.column(),
        }
    }
}

/// A YAML value and where it stood.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub position: Position,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Integer(i128),
    Float(f64),
    String(String),
    Sequence(Vec<Node>),
    /// Entries in file order; keys are strings with their own positions.
    Mapping(Vec<(Node, Node)>),
}

impl NodeKind {
    /// What the value is, for messages such as "expected an integer, found a list".
    pub fn describe(&self) -> &'static str {
        match self {
            NodeKind::Null => "nothing (null)",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Integer(_) => "an integer",
            NodeKind::Float(_) => "a decimal number",
            NodeKind::String(_) => "a string",
            NodeKind::Sequence(_) => "a list",
            NodeKind::Mapping(_) => "a mapping",
        }
    }
}

/// A YAML syntax error with its position, when the parser knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub position: Position,
    pub message: String,
}

/// Parses one YAML document into a positioned tree.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    // `0755` stays the text the user wrote instead of becoming 755.
    options.leading_zero_numbers_as_strings = true;
    options.with_snippet = false;
    match serde_saphyr::from_str_with_options::<Option<Spanned<NodeKind>>>(text, options) {
        Ok(Some(spanned)) => Ok(node(spanned)),
        // An empty file is an empty mapping: every field is optional.
        Ok(None) => Ok(Node {
            position: Position { line: 1, column: 1 },
            kind: NodeKind::Mapping(Vec::new()),
        }),
        Err(error) => Err(SyntaxError {
            position: error
                .location()
                .map(|location| Position::from_location(&location))
                .unwrap_or_default(),
            message: describe_error(&error),
        }),
    }
}

/// The parser's message without the position it repeats (tcptune prints its
/// own) and without hints meant for programmers using the library.
fn describe_error(error: &serde_saphyr::Error) -> String {
    let text = error.to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    let mut message = match first.find(" at line ") {
        Some(at) => &first[..at],
        None => first,
    };
    if let Some(at) = message.find(", set DuplicateKeyPolicy") {
        message = &message[..at];
    }
    if let Some(limit) = message.strip_prefix("budget breached: ") {
        return format!(
            "the document is too large or expands too far through aliases (limit reached: {limit})"
        );
    }
    message.trim_end_matches(':').to_owned()
}

fn node(spanned: Spanned<NodeKind>) -> Node {
    Node {
        position: Position::from_location(&spanned.referenced),
        kind: spanned.value,
    }
}

impl<'de> Deserialize<'de> for NodeKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<NodeKind, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<NodeKind, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<NodeKind, E> {
        Ok(NodeKind::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<NodeKind, E> {
        Ok(NodeKind::Integer(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<NodeKind, E> {
        Ok(NodeKind::Integer(value.into()))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<NodeKind, E> {
        Ok(NodeKind::Integer(value))
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<NodeKind, E> {
        i128::try_from(value)
            .map(NodeKind::Integer)
            .map_err(|_| E::custom("integer too large"))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<NodeKind, E> {
        Ok(NodeKind::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<NodeKind, E> {
        Ok(NodeKind::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<NodeKind, E> {
        Ok(NodeKind::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<NodeKind>>()? {
            items.push(node(item));
        }
        Ok(NodeKind::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<NodeKind>>()? {
            let value = map.next_value::<Spanned<NodeKind>>()?;
            entries.push((node(key), node(value)));
        }
        Ok(NodeKind::Mapping(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_kept_for_keys_and_values() {
        let tree = parse("settings:\n  net.ipv4.tcp_fin_timeout:\n    value: 30\n").unwrap();
        let NodeKind::Mapping(top) = &tree.kind else {
            panic!("{tree:?}")
        };
        let (key, settings) = &top[0];
        assert_eq!(key.kind, NodeKind::String("settings".into()));
        assert_eq!(key.position, Position { line: 1, column: 1 });
        let NodeKind::Mapping(entries) = &settings.kind else {
            panic!()
        };
        assert_eq!(entries[0].0.position, Position { line: 2, column: 3 });
        let NodeKind::Mapping(fields) = &entries[0].1.kind else {
            panic!()
        };
        assert_eq!(fields[0].1.kind, NodeKind::Integer(30));
        assert_eq!(
            fields[0].1.position,
            Position {
                line: 3,
                column: 12
            }
        );
    }

    #[test]
    fn yaml_11_booleans_stay_strings() {
        let tree = parse("a: yes\nb: true\nc: 0755\n").unwrap();
        let NodeKind::Mapping(entries) = tree.kind else {
            panic!()
        };
        assert_eq!(entries[0].1.kind, NodeKind::String("yes".into()));
        assert_eq!(entries[1].1.kind, NodeKind::Bool(true));
        assert_eq!(entries[2].1.kind, NodeKind::String("0755".into()));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let error = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.position.line >= 1, "{error:?}");
        assert!(!error.message.is_empty());
        let error = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(error.position.line, 2, "{error:?}");
    }

    #[test]
    fn empty_document_is_an_empty_mapping() {
        assert_eq!(parse("").unwrap().kind, NodeKind::Mapping(Vec::new()));
        assert_eq!(
            parse("# only a comment\n").unwrap().kind,
            NodeKind::Mapping(Vec::new())
        );
    }
}
