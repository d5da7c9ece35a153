//! "Did you mean ...?": the closest name to a misspelt one.

/// Longest input considered for a suggestion.
const MAX_INPUT: usize = 200;

/// The candidate closest to `input`, if it is close enough to be a likely typo.
pub fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // No sysctl name is this long; comparing a huge string against every
    // candidate would only burn time (it is quadratic).
    if input.len() > MAX_INPUT {
        return None;
    }
    let limit = (input.chars().count() / 3).clamp(2, 4);
    candidates
        .into_iter()
        .map(|candidate| (distance(input, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        let keys = ["net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_tw_reuse"];
        assert_eq!(
            closest("net.ipv4.tcp_fin_timout", keys),
            Some("net.ipv4.tcp_fin_timeout")
        );
        assert_eq!(
            closest("net.ipv4.tcp_tw_resue", keys),
            Some("net.ipv4.tcp_tw_reuse")
        );
        assert_eq!(closest("kernel.pid_max", keys), None);
        assert_eq!(closest("why", ["why", "value"]), Some("why"));
        assert_eq!(closest("vlaue", ["why", "value"]), Some("value"));
    }
}
