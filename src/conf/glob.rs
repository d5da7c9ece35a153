//! Glob keys in sysctl.d files (`net.ipv4.conf.*.rp_filter = 2`).
//!
//! systemd-sysctl and procps 4 both accept `*`, `?` and `[...]` in a key and
//! expand it with glob(3) against `/proc/sys`, after turning the key into a
//! path with the same `.`/`/` rule as plain keys. So a pattern matches one
//! path component at a time, never across a separator, and, as glob(3) does
//! without `GLOB_PERIOD`, a wildcard does not match a leading dot in a
//! component. We cannot expand against `/proc/sys` here (this module reads
//! configuration only), so a [`Glob`] is matched against concrete [`Key`]s the
//! caller knows about.

use std::fmt;

use crate::key::{Key, KeyError};

/// A validated glob key, split into per-component patterns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Glob {
    components: Vec<String>,
}

/// Whether key text must be treated as a glob: the same test both loaders use
/// (`strpbrk(key, "*?[")`).
pub(crate) fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

impl Glob {
    /// Parses a glob key in either sysctl.d(5) spelling. The component rules
    /// are those of [`Key::parse`] with `*`, `?`, `[`, `]`, `!` and `^`
    /// allowed as well, so a glob can no more name `..` or a control
    /// character than a plain key can.
    ///
    /// # Errors
    ///
    /// The [`KeyError`] of the first component that breaks the grammar.
    pub fn parse(text: &str) -> Result<Glob, KeyError> {
        crate::key::split_components(text, is_glob_char).map(|components| Glob { components })
    }

    /// The per-component patterns, dots inside them kept literally.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// Whether glob(3) would expand this pattern to the key's path.
    pub fn matches(&self, key: &Key) -> bool {
        let names = key.components();
        names.len() == self.components.len()
            && self
                .components
                .iter()
                .zip(names)
                .all(|(pattern, name)| component_matches(pattern, name))
    }
}

impl fmt::Display for Glob {
    /// The canonical dotted spelling, like [`Key`]'s.
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

fn is_glob_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric()
        || matches!(
            ch,
            '_' | '-' | '.' | '@' | ':' | '+' | '*' | '?' | '[' | ']' | '!' | '^'
        )
}

/// fnmatch(3) for one path component, without escapes (the grammar above
/// refuses backslashes). A leading dot in the name must be matched by a
/// literal dot, as glob(3) requires.
pub(crate) fn component_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    if name.first() == Some(&'.') && pattern.first() != Some(&'.') {
        return false;
    }
    // Iterative matching with one backtrack point for the last `*` seen:
    // linear in practice and no recursion on hostile input.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() {
            match pattern[p] {
                '*' => {
                    star = Some((p, n));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_class(&pattern, p, name[n]) {
                        if matched {
                            p = next;
                            n += 1;
                            continue;
                        }
                    } else if name[n] == '[' {
                        // An unclosed `[` is an ordinary character.
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
                literal => {
                    if literal == name[n] {
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((star_p, star_n)) => {
                p = star_p + 1;
                n = star_n + 1;
                star = Some((star_p, star_n + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|ch| *ch == '*')
}

/// Matches `ch` against the bracket expression starting at `pattern[start]`
/// (which is `[`). Returns whether it matched and the index after the closing
/// `]`, or `None` when the bracket is never closed.
fn match_class(pattern: &[char], start: usize, ch: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negated = matches!(pattern.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let current = *pattern.get(i)?;
        // A `]` right after `[` or `[!` is a member, not the end.
        if current == ']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|end| *end != ']') {
            let end = pattern[i + 2];
            if current <= ch && ch <= end {
                matched = true;
            }
            i += 3;
        } else {
            if current == ch {
                matched = true;
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Key {
        Key::parse(text).unwrap()
    }

    #[test]
    fn star_matches_one_component_including_dots_inside_it() {
        let glob = Glob::parse("net.ipv4.conf.*.rp_filter").unwrap();
        assert!(glob.matches(&key("net.ipv4.conf.eth0.rp_filter")));
        assert!(glob.matches(&key("net.ipv4.conf.eth0/100.rp_filter")));
        assert!(glob.matches(&key("net/ipv4/conf/all/rp_filter")));
        assert!(!glob.matches(&key("net.ipv6.conf.eth0.rp_filter")));
        assert!(!glob.matches(&key("net.ipv4.conf.eth0.accept_redirects")));
        assert!(!glob.matches(&key("net.ipv4.rp_filter")));
    }

    #[test]
    fn both_spellings_give_the_same_glob() {
        assert_eq!(
            Glob::parse("net/ipv4/conf/eth0.*/rp_filter").unwrap(),
            Glob::parse("net.ipv4.conf.eth0/*.rp_filter").unwrap()
        );
        let glob = Glob::parse("net/ipv4/conf/eth0.*/rp_filter").unwrap();
        assert_eq!(glob.to_string(), "net.ipv4.conf.eth0/*.rp_filter");
        assert!(glob.matches(&key("net.ipv4.conf.eth0/100.rp_filter")));
        assert!(!glob.matches(&key("net.ipv4.conf.eth0.rp_filter")));
    }

    #[test]
    fn question_mark_and_classes() {
        let glob = Glob::parse("net.ipv4.conf.eth?.rp_filter").unwrap();
        assert!(glob.matches(&key("net.ipv4.conf.eth1.rp_filter")));
        assert!(!glob.matches(&key("net.ipv4.conf.eth10.rp_filter")));

        let class = Glob::parse("net.ipv4.conf.eth[0-2].rp_filter").unwrap();
        assert!(class.matches(&key("net.ipv4.conf.eth2.rp_filter")));
        assert!(!class.matches(&key("net.ipv4.conf.eth3.rp_filter")));

        let negated = Glob::parse("net.ipv4.conf.eth[!0].rp_filter").unwrap();
        assert!(negated.matches(&key("net.ipv4.conf.eth1.rp_filter")));
        assert!(!negated.matches(&key("net.ipv4.conf.eth0.rp_filter")));
    }

    #[test]
    fn star_backtracks_and_leading_dots_need_a_literal_dot() {
        assert!(component_matches("a*b*c", "axxbyybzc"));
        assert!(!component_matches("a*b*c", "axxbyyb"));
        assert!(component_matches("*", ""));
        assert!(!component_matches("*", ".hidden"));
        assert!(component_matches(".*", ".hidden"));
        assert!(component_matches("[ab", "[ab"));
    }

    #[test]
    fn globs_obey_the_key_grammar() {
        assert!(matches!(
            Glob::parse("net/../*"),
            Err(KeyError::DotComponent(_))
        ));
        assert!(matches!(
            Glob::parse("net.*..x"),
            Err(KeyError::EmptyComponent(_))
        ));
        assert!(matches!(
            Glob::parse("net.* x"),
            Err(KeyError::BadCharacter { .. })
        ));
        assert!(matches!(
            Glob::parse("net.\\*"),
            Err(KeyError::BadCharacter { .. })
        ));
        assert!(is_glob("net.*"));
        assert!(is_glob("net.eth[01]"));
        assert!(!is_glob("net.ipv4.tcp_rmem"));
    }
}
