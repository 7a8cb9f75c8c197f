//! `GET /search`: messages by their text.

use actix_web::{web, HttpResponse};

use super::auth::TenantCaller;
use super::dto::{SearchListDto, SearchQuery};
use super::error::ApiResult;
use super::extract::Query;
use super::query_ref;
use crate::app::App;
use crate::error::Error;
use crate::service::page_limit;

/// A page of the messages whose text matches `q`, best first, with a snippet each: the
/// caller's conversations, or with `?as=` another user's (admins); an admin who names nobody
/// searches the whole tenant.
pub async fn search(
    app: web::Data<App>,
    caller: TenantCaller,
    query: Query<SearchQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.0;
    let limit = page_limit("limit", q.limit, 20)?;
    let text = q.q.ok_or_else(|| Error::invalid("q", "is required"))?;
    let viewer = caller.acting_or_admin(&app, query_ref(q.as_user)?).await?;
    let page = app
        .service
        .search_messages(caller.tenant, viewer, &text, q.after, limit)
        .await?;
    Ok(HttpResponse::Ok().json(SearchListDto::from(page)))
}
