//! Near misses: for a request no route of its face matched, the routes of that face it most
//! likely meant, ranked by a distance between its path and each route's template.
//!
//! The distance is an edit distance over path segments: inserting or removing a segment costs
//! 1; a segment against a `{param}` costs nothing; against a literal it costs the characters'
//! edit distance over the longer one's length, so a typo (`conversatons`) costs little and an
//! unrelated word close to 1. A different method adds 0.5.

use super::entry::NearMiss;

/// How many near misses an entry lists.
const LISTED: usize = 3;

/// The route templates of a face (method, path under the face's prefix), as its `ROUTES`.
pub fn routes_of(face: &str) -> &'static [(&'static str, &'static str)] {
    use crate::faces::{mdlive, pigeons, respondent, tati, trillet};
    match face {
        "mdlive" => mdlive::ROUTES,
        "pigeons" => pigeons::ROUTES,
        "respondent" => respondent::ROUTES,
        "tati" => tati::ROUTES,
        "trillet" => trillet::ROUTES,
        _ => &[],
    }
}

/// The routes of `face` (mounted at `prefix`) nearest to `method path`, nearest first.
pub fn nearest(face: &str, prefix: &str, method: &str, path: &str) -> Vec<NearMiss> {
    let under = path.strip_prefix(prefix).unwrap_or(path);
    let asked: Vec<&str> = segments(under);
    let mut ranked: Vec<NearMiss> = routes_of(face)
        .iter()
        .map(|(route_method, template)| {
            let mut distance = path_distance(&asked, &segments(template));
            if !route_method.eq_ignore_ascii_case(method) {
                distance += 0.5;
            }
            NearMiss {
                method: route_method.to_string(),
                route: format!("{prefix}{template}"),
                distance: (distance * 100.0).round() / 100.0,
            }
        })
        .collect();
    // Stable: among equals, the order the face lists its routes in.
    ranked.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    ranked.truncate(LISTED);
    ranked
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn is_param(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

fn segment_cost(asked: &str, template: &str) -> f64 {
    if is_param(template) || asked == template {
        return 0.0;
    }
    let longer = asked.chars().count().max(template.chars().count()).max(1);
    edit_distance(asked, template) as f64 / longer as f64
}

fn path_distance(asked: &[&str], template: &[&str]) -> f64 {
    let mut previous: Vec<f64> = (0..=template.len()).map(|j| j as f64).collect();
    for (i, a) in asked.iter().enumerate() {
        let mut current = vec![(i + 1) as f64];
        for (j, t) in template.iter().enumerate() {
            let substitute = previous[j] + segment_cost(a, t);
            let remove = previous[j + 1] + 1.0;
            let insert = current[j] + 1.0;
            current.push(substitute.min(remove).min(insert));
        }
        previous = current;
    }
    previous[template.len()]
}

/// Levenshtein distance between two words, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_ranks_its_route_first() {
        let near = nearest("trillet", "/v1/api", "GET", "/v1/api/conversatons/42");
        assert_eq!(near[0].route, "/v1/api/conversations/{conversationId}");
        assert_eq!(near[0].method, "GET");
        assert!(near[0].distance < 0.2, "{near:?}");
        assert_eq!(near.len(), LISTED);
        assert!(near.windows(2).all(|w| w[0].distance <= w[1].distance));
    }

    #[test]
    fn segments_count_more_than_letters() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(path_distance(&["a", "b"], &["a", "{x}"]), 0.0);
        assert_eq!(path_distance(&["a"], &["a", "b", "c"]), 2.0);
    }
}
