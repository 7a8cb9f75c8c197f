//! OpenAPI 3.1 documents built from the same tables that register the routes (the native API's
//! in `native/mod.rs`, the control plane's in `control/mod.rs`): an operation exists in the
//! document because it is served, and its schemas are derived from the very DTO types the
//! handlers read and write (`schemars`, which follows their serde attributes). Nothing here is
//! written beside the code, so a renamed field or a new route changes the document by itself.

mod document;

pub use document::{conflicts, document, Info};

use std::sync::OnceLock;

use actix_web::http::header::ContentType;
use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, HttpResponse, Responder, Route};
use schemars::{JsonSchema, Schema, SchemaGenerator};

/// A type's schema, produced into a generator (whose definitions become `components.schemas`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn subschema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// The object schema of a query string's struct, inline: its properties become parameters.
fn inline<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    T::json_schema(g)
}

/// Any JSON object (e.g. an OpenAPI document, which has its own meta-schema).
pub fn any_object(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({"type": "object"})
}

/// What a successful call answers.
#[derive(Clone, Copy)]
pub enum Reply {
    /// A JSON body of this schema.
    Json(u16, SchemaFn),
    /// No body (204, or a 200 with headers only).
    Empty(u16),
    /// A body that is not one JSON value described here: a stream or a download, by its
    /// media types.
    Media(u16, &'static [&'static str]),
}

/// One operation of a surface: its route and everything its document says about it.
pub struct Op {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub route: Route,
    pub query: Option<SchemaFn>,
    /// The request body's schema, and whether a body is required.
    pub body: Option<(SchemaFn, bool)>,
    pub reply: Reply,
    /// Error statuses the operation is known to answer (any other is the `default`).
    pub errors: &'static [u16],
    /// Answered to any caller, no credential needed.
    pub public: bool,
    /// Request headers the operation reads, beyond the credential.
    pub headers: &'static [(&'static str, &'static str)],
    /// The body is a file: a `multipart/form-data` form with a `file` part, or the bytes
    /// themselves.
    pub file_body: bool,
}

/// An operation answering `method` on `path` with `handler`; the builder's other calls describe
/// it. The route is made here from the same method the document names.
pub fn op<F, Args>(method: Method, path: &'static str, summary: &'static str, handler: F) -> Op
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Op {
        route: web::method(method.clone()).to(handler),
        method,
        path,
        summary,
        query: None,
        body: None,
        reply: Reply::Empty(204),
        errors: &[],
        public: false,
        headers: &[],
        file_body: false,
    }
}

impl Op {
    pub fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(inline::<T>);
        self
    }

    pub fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some((subschema::<T>, true));
        self
    }

    /// A body that may be left out entirely (the handler reads it with `OptionalJson`).
    pub fn optional_body<T: JsonSchema>(mut self) -> Self {
        self.body = Some((subschema::<T>, false));
        self
    }

    pub fn json<T: JsonSchema>(mut self, status: u16) -> Self {
        self.reply = Reply::Json(status, subschema::<T>);
        self
    }

    /// A JSON reply whose schema is written by hand (e.g. one of several shapes).
    pub fn json_with(mut self, status: u16, schema: SchemaFn) -> Self {
        self.reply = Reply::Json(status, schema);
        self
    }

    pub fn empty(mut self, status: u16) -> Self {
        self.reply = Reply::Empty(status);
        self
    }

    pub fn media(mut self, status: u16, media_types: &'static [&'static str]) -> Self {
        self.reply = Reply::Media(status, media_types);
        self
    }

    pub fn errors(mut self, statuses: &'static [u16]) -> Self {
        self.errors = statuses;
        self
    }

    /// A file upload's body (see `file_body`).
    pub fn file_body(mut self) -> Self {
        self.file_body = true;
        self
    }

    pub fn public(mut self) -> Self {
        self.public = true;
        self
    }

    pub fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Self {
        self.headers = headers;
        self
    }

    /// Changes the route (e.g. wraps it in a middleware) without changing what it documents.
    pub fn map_route(mut self, f: impl FnOnce(Route) -> Route) -> Self {
        self.route = f(self.route);
        self
    }
}

/// A document as served: built and serialized on the first request, the same text after.
pub fn serve(
    text: &'static OnceLock<String>,
    build: impl FnOnce() -> serde_json::Value,
) -> HttpResponse {
    let text = text.get_or_init(|| build().to_string());
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(text.as_str())
}

/// The operations grouped by path, in the table's order: one actix resource per path.
pub fn by_path(ops: Vec<Op>) -> Vec<(&'static str, Vec<Op>)> {
    let mut paths: Vec<(&'static str, Vec<Op>)> = Vec::new();
    for op in ops {
        match paths.iter_mut().find(|(p, _)| *p == op.path) {
            Some((_, list)) => list.push(op),
            None => paths.push((op.path, vec![op])),
        }
    }
    paths
}
