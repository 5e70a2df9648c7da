//! "Did you mean …" for model names: a small ranking over string similarity, shared by the
//! unknown-model error and (later) config checks.

/// The `n` candidates most similar to `name`, best first. A candidate qualifies when it is
/// similar enough (normalized Damerau–Levenshtein ≥ 0.6) or when one name is a prefix of the
/// other (`gpt-5` for `gpt-5-turbo`).
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>, n: usize) -> Vec<String> {
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(f64, &str)> = candidates
        .filter(|c| *c != name)
        .filter_map(|c| {
            let sim = strsim::normalized_damerau_levenshtein(&name, c);
            let prefix = name.len() >= 3 && (c.starts_with(&name) || name.starts_with(c));
            let score = if prefix { sim.max(0.6) + 0.1 } else { sim };
            (score >= 0.6).then_some((score, c))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut out: Vec<String> = Vec::with_capacity(n);
    for (_, c) in scored {
        if !out.iter().any(|o| o == c) {
            out.push(c.to_owned());
        }
        if out.len() == n {
            break;
        }
    }
    out
}
