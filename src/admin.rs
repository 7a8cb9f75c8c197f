//! The admin page: the files of `static/`, embedded in the binary (release and debug alike, so
//! the server finds them from any working directory), served under `/admin`. The page is plain
//! HTML, CSS and JavaScript and talks only to the native API (`/parlor/v1`), signed in with the
//! session cookie of `native/sessions.rs`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::Embed;

use crate::error::Error;
use crate::native::error::ApiError;
use crate::native::etag::if_none_match;

pub const BASE: &str = "/admin";

#[derive(Embed)]
#[folder = "static/"]
// The README's screenshots live beside the page but are not part of it.
#[exclude = "screenshots/*"]
struct Assets;

/// Nothing from another host, no inline script, no framing: the page works offline and a
/// stray injected tag has nothing to load.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(BASE, web::get().to(index))
        .route(&format!("{BASE}/"), web::get().to(index))
        .route(&format!("{BASE}/{{file:.*}}"), web::get().to(file));
}

async fn index(req: HttpRequest) -> HttpResponse {
    serve::<Assets>(&req, "index.html")
}

async fn file(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    serve::<Assets>(&req, &path)
}

/// One embedded file with the page's CSP and caching rules (the clinic's app, `app_page.rs`,
/// is served the same way from its own folder).
pub(crate) fn serve<A: Embed>(req: &HttpRequest, name: &str) -> HttpResponse {
    let Some(asset) = A::get(name) else {
        return actix_web::ResponseError::error_response(&ApiError(Error::NotFound("file")));
    };
    let etag = format!("\"{}\"", hex::encode(&asset.metadata.sha256_hash()[..16]));
    let mut response = if if_none_match(req, &etag) {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CONTENT_TYPE, asset.metadata.mimetype()))
        .insert_header((header::ETAG, etag.clone()))
        // Revalidate every time: a new binary must never run with the old page's script.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if if_none_match(req, &etag) {
        response.finish()
    } else {
        response.body(asset.data.into_owned())
    }
}
