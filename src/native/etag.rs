//! `ETag` / `If-None-Match` for lists that the admin page polls: an unchanged list costs the
//! read but not the transfer, and the page re-renders nothing on a 304.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::error::Error;

/// The JSON body with a strong ETag of its bytes; 304 without a body when the client has it.
pub fn json_with_etag<T: Serialize>(req: &HttpRequest, body: &T) -> Result<HttpResponse, Error> {
    // Room for a typical page up front: growing from nothing copied the body several times.
    let mut bytes = Vec::with_capacity(16 * 1024);
    serde_json::to_writer(&mut bytes, body).map_err(Error::internal)?;
    // A 128-bit XXH3 of the body: an ETag needs to change with the bytes, not to resist a
    // forger (a client can only mislead itself), and SHA-256 was 7% of a list request.
    let etag = format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(&bytes));
    let unchanged = if_none_match(req, &etag);
    let mut response = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        // A browser may keep it, but must ask before reusing it.
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    Ok(if unchanged {
        response.finish()
    } else {
        response.content_type("application/json").body(bytes)
    })
}

/// Whether the request's `If-None-Match` names `etag` (or `*`).
pub fn if_none_match(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}
