//! Body and query extractors for the native API whose errors name the offending field by its
//! path (`participants[1]`, `limit`) rather than a line and column.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::error::Error;

/// A JSON body. An empty body is accepted (as `{}`) only for types that are `Default`, via
/// `OptionalJson`.
pub struct Json<T>(pub T);

/// A JSON body that may be left out entirely (read marks, deletes).
pub struct OptionalJson<T>(pub T);

/// A query string.
pub struct Query<T>(pub T);

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // serde would read a JSON array as the struct's fields in order; every body here is an object.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("is not valid JSON ({inner})")
        } else {
            // serde's own text minus the position, which means nothing to API users.
            let text = inner.to_string();
            text.split(" at line ").next().unwrap_or(&text).to_string()
        };
        let field = if path == "." || inner.is_syntax() || inner.is_eof() {
            "body".to_string()
        } else {
            path
        };
        Error::invalid(field, message)
    })
}

fn body_future<T: 'static>(
    req: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
    parse: fn(&[u8]) -> Result<T, Error>,
) -> Pin<Box<dyn Future<Output = Result<T, ApiError>>>> {
    let bytes = web::Bytes::from_request(req, payload);
    Box::pin(async move {
        let bytes = bytes.await.map_err(|e| {
            ApiError(match e.as_response_error().status_code() {
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge(
                    "the request body is larger than the configured body_limit".into(),
                ),
                _ => Error::invalid("body", e),
            })
        })?;
        parse(&bytes).map_err(ApiError)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let fut = body_future(req, payload, |b| {
            if b.iter().all(u8::is_ascii_whitespace) {
                return Err(Error::invalid("body", "a JSON body is required"));
            }
            parse_json(b)
        });
        Box::pin(async move { fut.await.map(Json) })
    }
}

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let fut = body_future(req, payload, |b| {
            if b.iter().all(u8::is_ascii_whitespace) {
                return Ok(T::default());
            }
            parse_json(b)
        });
        Box::pin(async move { fut.await.map(OptionalJson) })
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "query".to_string()
        } else {
            path
        };
        Error::invalid(field, e.into_inner())
    })
}

/// A query as its handler reads it: at once when it parses; otherwise once the caller's
/// credentials have been checked.
pub enum QueryFuture<T> {
    Parsed(std::future::Ready<Result<T, ApiError>>),
    Refused(Pin<Box<dyn Future<Output = ApiError>>>),
}

impl<T> Future for QueryFuture<T> {
    type Output = Result<T, ApiError>;

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.get_mut() {
            QueryFuture::Parsed(parsed) => Pin::new(parsed).poll(cx),
            QueryFuture::Refused(refusal) => refusal.as_mut().poll(cx).map(Err),
        }
    }
}

/// Every route that reads a query also names its caller, whose extractor actix polls beside
/// this one: a query that does not parse would answer before the credentials are checked, and
/// a caller with a wrong token would learn about the query (400) instead of their token (401).
/// So a refused query waits for the credentials' check and answers its refusal first.
impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = QueryFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        match parse_query(req.query_string()) {
            Ok(q) => QueryFuture::Parsed(std::future::ready(Ok(Query(q)))),
            Err(e) => {
                let req = req.clone();
                QueryFuture::Refused(Box::pin(async move {
                    ApiError(super::auth::refusal(req).await.unwrap_or(e))
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        limit: Option<u32>,
        items: Option<Vec<u32>>,
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_query::<Sample>("limit=abc").unwrap_err();
        assert!(
            matches!(&e, Error::Invalid { field, .. } if field == "limit"),
            "{e}"
        );
        let e = parse_json::<Sample>(br#"{"items": [1, "x"]}"#).unwrap_err();
        assert!(
            matches!(&e, Error::Invalid { field, .. } if field == "items[1]"),
            "{e}"
        );
        let e = parse_json::<Sample>(br#"{"bogus": 1}"#).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let e = parse_json::<Sample>(b"{").unwrap_err();
        assert!(
            matches!(&e, Error::Invalid { field, .. } if field == "body"),
            "{e}"
        );
    }
}
