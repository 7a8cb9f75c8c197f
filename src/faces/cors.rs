//! CORS for a face, as its vendor's framework answers it with the usual middleware, for the
//! origins listed in `[faces.<name>] cors_origins` ("*" for any). Off when the list is empty:
//! then a face answers `OPTIONS` and `Origin` as it always has.
//!
//! - Rails, `rack-cors` (`resource '*', headers: :any, methods: [:get, :post, :put, :patch,
//!   :delete, :options, :head]`): preflight 200 with the method list, the requested headers
//!   echoed and `Access-Control-Max-Age: 7200`; the same headers on actual requests. A preflight
//!   from another origin goes on to the router, which has no `OPTIONS` route (404).
//! - Laravel, `HandleCors` with `config/cors.php` defaults (methods and headers `*`,
//!   `max_age` 0): preflight 204 echoing the requested method and headers.
//! - Express and NestJS, the `cors` package (`enableCors({origin})`, `app.use(cors({origin}))`):
//!   preflight 204 with `GET,HEAD,PUT,PATCH,POST,DELETE` and the requested headers echoed.
//! - Django, `django-cors-headers` defaults: preflight 200 with its default header and method
//!   lists and `Access-Control-Max-Age: 86400`; `Vary: origin` in lower case, as Django writes it.
//!
//! Credentials stay off, as in each middleware's defaults: the faces authenticate with headers,
//! not cookies. A disallowed origin gets no `Access-Control-*` header at all (only the `Vary`
//! the framework always sends), whatever the middleware would add beside it.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, VARY};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;

use super::framework::Framework;

const ALLOW_ORIGIN: &str = "access-control-allow-origin";
const ALLOW_METHODS: &str = "access-control-allow-methods";
const ALLOW_HEADERS: &str = "access-control-allow-headers";
const MAX_AGE: &str = "access-control-max-age";
const REQUEST_METHOD: &str = "access-control-request-method";
const REQUEST_HEADERS: &str = "access-control-request-headers";

/// The origins a face answers for, and how its framework answers.
#[derive(Clone, Debug)]
pub struct Policy {
    framework: Framework,
    any: bool,
    origins: Vec<String>,
    /// A stand-in's sandbox headers join a fixed list of allowed headers (Django's) when a
    /// preflight asks for them: a browser test suite sends them on every request. Any other
    /// preflight gets the vendor's list as it is; frameworks that echo the requested headers
    /// allow them already.
    stand_in: bool,
}

/// The headers a stand-in's requests may carry besides the vendor's (`control::state`).
const STAND_IN_HEADERS: &str = "x-parlor-sandbox, x-parlor-sandbox-from";

/// A preflight's `Access-Control-Request-Headers` names a sandbox header.
fn asks_for_sandbox(requested: Option<&str>) -> bool {
    requested.is_some_and(|list| {
        list.split(',').any(|h| {
            let h = h.trim();
            h.eq_ignore_ascii_case("x-parlor-sandbox")
                || h.eq_ignore_ascii_case("x-parlor-sandbox-from")
        })
    })
}

impl Policy {
    /// None when no origin is configured (CORS off).
    pub fn new(framework: Framework, origins: &[String], stand_in: bool) -> Option<Policy> {
        (!origins.is_empty()).then(|| Policy {
            framework,
            any: origins.iter().any(|o| o == "*"),
            origins: origins.to_vec(),
            stand_in,
        })
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    fn allow(&self, origin: Option<&str>) -> Option<String> {
        let origin = origin?;
        if self.any {
            Some("*".into())
        } else {
            self.origins
                .iter()
                .any(|o| o == origin)
                .then(|| origin.to_string())
        }
    }

    /// `Vary` names every response of the face carries, allowed or not, Origin header or not.
    fn vary(&self) -> Vec<&'static str> {
        match self.framework {
            Framework::Rails => vec!["Origin"],
            // php-cors names a single configured origin outright, without `Vary`.
            Framework::Laravel if self.any || self.origins.len() == 1 => vec![],
            Framework::Express if self.any => vec![],
            Framework::Laravel | Framework::Express => vec!["Origin"],
            Framework::Django => vec!["origin"],
        }
    }

    /// The answer to a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`), or None when the request should go on to the routes.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<HttpResponse> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let origin = text("origin");
        if method != Method::OPTIONS || origin.is_none() || text(REQUEST_METHOD).is_none() {
            return None;
        }
        let allowed = self.allow(origin);
        let requested_headers = text(REQUEST_HEADERS).filter(|h| !h.trim().is_empty());
        let mut vary = self.vary();
        let mut out: Vec<(&str, String)> = Vec::new();
        let status = match self.framework {
            Framework::Rails => {
                let allowed = allowed?;
                out.push((ALLOW_ORIGIN, allowed));
                out.push((
                    ALLOW_METHODS,
                    "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD".into(),
                ));
                if let Some(h) = requested_headers {
                    out.push((ALLOW_HEADERS, h.to_string()));
                }
                out.push((MAX_AGE, "7200".into()));
                StatusCode::OK
            }
            Framework::Laravel => {
                if let Some(allowed) = allowed {
                    out.push((ALLOW_ORIGIN, allowed));
                    let method = text(REQUEST_METHOD).unwrap_or_default();
                    out.push((ALLOW_METHODS, method.to_ascii_uppercase()));
                    vary.push("Access-Control-Request-Method");
                    if let Some(h) = requested_headers {
                        out.push((ALLOW_HEADERS, h.to_string()));
                    }
                    vary.push("Access-Control-Request-Headers");
                    out.push((MAX_AGE, "0".into()));
                }
                // HandleCors names the requested method in `Vary` on every preflight.
                if !vary.contains(&"Access-Control-Request-Method") {
                    vary.push("Access-Control-Request-Method");
                }
                StatusCode::NO_CONTENT
            }
            Framework::Express => {
                if let Some(allowed) = allowed {
                    out.push((ALLOW_ORIGIN, allowed));
                    out.push((ALLOW_METHODS, "GET,HEAD,PUT,PATCH,POST,DELETE".into()));
                    if let Some(h) = requested_headers {
                        out.push((ALLOW_HEADERS, h.to_string()));
                    }
                }
                vary.push("Access-Control-Request-Headers");
                StatusCode::NO_CONTENT
            }
            Framework::Django => {
                if let Some(allowed) = allowed {
                    out.push((ALLOW_ORIGIN, allowed));
                    let django = "accept, authorization, content-type, user-agent, x-csrftoken, \
                                  x-requested-with";
                    out.push((
                        ALLOW_HEADERS,
                        if self.stand_in && asks_for_sandbox(requested_headers) {
                            format!("{django}, {STAND_IN_HEADERS}")
                        } else {
                            django.into()
                        },
                    ));
                    out.push((
                        ALLOW_METHODS,
                        "DELETE, GET, OPTIONS, PATCH, POST, PUT".into(),
                    ));
                    out.push((MAX_AGE, "86400".into()));
                }
                StatusCode::OK
            }
        };
        let mut response = HttpResponse::build(status);
        for (name, value) in out {
            response.insert_header((name, value));
        }
        if !vary.is_empty() {
            response.insert_header((VARY, vary.join(", ")));
        }
        if self.framework == Framework::Django {
            // Django's `HttpResponse()` default.
            response.content_type("text/html; charset=utf-8");
        }
        Some(response.finish())
    }

    /// Adds what the framework's middleware adds to an actual response for a request from
    /// `origin` (None: no `Origin` header).
    pub fn decorate(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        let mut add = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        };
        if let Some(allowed) = self.allow(origin) {
            add(ALLOW_ORIGIN, &allowed);
            // rack-cors sends its resource's method list and max age on every response.
            if self.framework == Framework::Rails {
                add(
                    ALLOW_METHODS,
                    "GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD",
                );
                add(MAX_AGE, "7200");
            }
        }
        let vary = self.vary();
        if vary.is_empty() {
            return;
        }
        let mut names: Vec<String> = headers
            .get_all(VARY)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        for name in vary {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
                names.push(name.to_string());
            }
        }
        if let Ok(value) = HeaderValue::from_str(&names.join(", ")) {
            headers.insert(VARY, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed_headers(stand_in: bool, requested: &str) -> String {
        let policy = Policy::new(Framework::Django, &["*".into()], stand_in).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            actix_web::http::header::ORIGIN,
            HeaderValue::from_static("https://app.example"),
        );
        headers.insert(
            HeaderName::from_static(REQUEST_METHOD),
            HeaderValue::from_static("GET"),
        );
        headers.insert(
            HeaderName::from_static(REQUEST_HEADERS),
            HeaderValue::from_str(requested).unwrap(),
        );
        let answer = policy.preflight(&Method::OPTIONS, &headers).unwrap();
        answer
            .headers()
            .get(ALLOW_HEADERS)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    }

    #[test]
    fn only_a_stand_in_allows_the_sandbox_header_and_only_when_asked() {
        assert!(allowed_headers(true, "X-Parlor-Sandbox").contains("x-parlor-sandbox"));
        assert!(!allowed_headers(true, "authorization").contains("x-parlor"));
        assert!(!allowed_headers(false, "x-parlor-sandbox").contains("x-parlor"));
    }
}
