//! The clinic's web app for providers, staff and patients: the files of `app/`, embedded in the
//! binary and served under `/app` with the admin page's CSP and caching rules. Like the admin
//! page it is plain HTML, CSS and JavaScript and talks only to the native API, signed in with a
//! session cookie whose client is `app` (so the audit trail files its reads under the app).

use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::Embed;

use crate::admin::serve;

pub const BASE: &str = "/app";

#[derive(Embed)]
#[folder = "app/"]
// The README's screenshots live beside the app but are not part of it.
#[exclude = "screenshots/*"]
struct Assets;

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
