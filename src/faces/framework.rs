//! The web framework behind each vendor's API, and its habits with paths. A face's routes are
//! written once; these habits decide which request paths reach them (`doors.rs`), and how the
//! face answers a browser's CORS requests (`cors.rs`).

use std::borrow::Cow;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framework {
    /// Ruby on Rails (MDLIVE): the router squeezes repeated slashes and drops trailing ones
    /// (`Journey::Router::Utils.normalize_path`).
    Rails,
    /// Laravel (Pigeons): routes match the path with its slashes trimmed at both ends
    /// (`Request::path()`), so any trailing slashes are ignored.
    Laravel,
    /// Express, and NestJS on Express (Trillet, Respondent): non-strict routing, one optional
    /// trailing slash.
    Express,
    /// Django REST Framework (Tati): the face registers each path with and without its
    /// trailing slash itself; nothing else is rewritten.
    Django,
}

impl Framework {
    /// `rest` (the path after the face's prefix) as the framework's router reads it.
    pub fn normalize(self, rest: &str) -> Cow<'_, str> {
        match self {
            Framework::Rails => {
                let squeezed = squeeze_slashes(rest);
                match squeezed.trim_end_matches('/').len() {
                    n if n == squeezed.len() => squeezed,
                    n => Cow::Owned(squeezed[..n].to_string()),
                }
            }
            Framework::Laravel => Cow::Borrowed(rest.trim_end_matches('/')),
            Framework::Express => Cow::Borrowed(rest.strip_suffix('/').unwrap_or(rest)),
            Framework::Django => Cow::Borrowed(rest),
        }
    }
}

fn squeeze_slashes(path: &str) -> Cow<'_, str> {
    if !path.contains("//") {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    for ch in path.chars() {
        if !(ch == '/' && out.ends_with('/')) {
            out.push(ch);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::Framework::*;

    #[test]
    fn each_framework_reads_slashes_its_own_way() {
        assert_eq!(Rails.normalize("//api//v2/x/"), "/api/v2/x");
        assert_eq!(Rails.normalize("/api/v2/x///"), "/api/v2/x");
        assert_eq!(Rails.normalize("/api/v2/x"), "/api/v2/x");
        assert_eq!(Laravel.normalize("/conversations///"), "/conversations");
        assert_eq!(Laravel.normalize("//conversations"), "//conversations");
        assert_eq!(Express.normalize("/conversations/"), "/conversations");
        assert_eq!(Express.normalize("/conversations//"), "/conversations/");
        assert_eq!(Express.normalize("/"), "");
        assert_eq!(Django.normalize("/token"), "/token");
    }
}
