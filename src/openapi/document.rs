//! The OpenAPI 3.1 document of a table of operations.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::{Op, Reply};
use crate::native::error::ErrorBody;

/// What the document says about the surface as a whole.
pub struct Info {
    pub title: &'static str,
    pub description: &'static str,
    /// Prefixed to every operation's path.
    pub base: &'static str,
}

/// JSON Schema 2020-12, OpenAPI 3.1's own dialect, with definitions where OpenAPI keeps them.
fn generator(serialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    let settings = if serialize {
        settings.for_serialize()
    } else {
        settings.for_deserialize()
    };
    SchemaGenerator::new(settings)
}

/// The document of `ops`. Requests are described as serde reads them (a field with a default
/// may be left out) and replies as serde writes them (every field not skipped is present), so
/// each gets its own generator; their definitions share `components.schemas`.
pub fn document(info: &Info, ops: &[Op], session_cookie: &str) -> Value {
    let (paths, schemas, _) = described(info, ops);
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": info.title,
            "version": env!("CARGO_PKG_VERSION"),
            "description": info.description,
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token, sign-in token or the server-admin token.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": session_cookie,
                    "description": "The admin page's session (POST /parlor/v1/session).",
                },
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    })
}

/// The component names that a request type and a reply type both claim with different
/// schemas: each would be a `$ref` to the wrong type.
pub fn conflicts(info: &Info, ops: &[Op]) -> Vec<String> {
    described(info, ops).2
}

type Described = (Map<String, Value>, Map<String, Value>, Vec<String>);

/// The paths of `ops`, the schemas they refer to, and any conflicting names.
fn described(info: &Info, ops: &[Op]) -> Described {
    let mut reads = generator(false);
    let mut writes = generator(true);
    let error = writes.subschema_for::<ErrorBody>();
    let mut paths = Map::new();
    for op in ops {
        let path = format!("{}{}", info.base, op.path);
        let entry = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(
                op.method.as_str().to_ascii_lowercase(),
                operation(op, &mut reads, &mut writes, &error),
            );
        }
    }
    let mut schemas = writes.take_definitions(true);
    let mut conflicts = Vec::new();
    for (name, schema) in reads.take_definitions(true) {
        // A type both read and written shares its name; `conflicts` names any whose two
        // descriptions differ (a unit test keeps that list empty).
        match schemas.get(&name) {
            Some(written) if *written != schema => conflicts.push(name),
            Some(_) => {}
            None => {
                schemas.insert(name, schema);
            }
        }
    }
    (paths, schemas, conflicts)
}

fn operation(
    op: &Op,
    reads: &mut SchemaGenerator,
    writes: &mut SchemaGenerator,
    error: &Schema,
) -> Value {
    let mut params: Vec<Value> = path_names(op.path)
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect();
    if let Some(query) = op.query {
        params.extend(query_params(query(reads)));
    }
    for (name, description) in op.headers {
        params.push(json!({
            "name": name, "in": "header", "required": false,
            "description": description, "schema": {"type": "string"},
        }));
    }
    let mut responses = Map::new();
    let (status, success) = match op.reply {
        Reply::Json(status, schema) => (
            status,
            json!({
                "description": reason(status),
                "content": {"application/json": {"schema": schema(writes)}},
            }),
        ),
        Reply::Empty(status) => (status, json!({"description": reason(status)})),
        Reply::Media(status, media) => {
            let content: Map<String, Value> =
                media.iter().map(|m| (m.to_string(), json!({}))).collect();
            (
                status,
                json!({"description": reason(status), "content": content}),
            )
        }
    };
    responses.insert(status.to_string(), success);
    let failure = |description: &str| json!({"description": description, "content": {"application/json": {"schema": error}}});
    for status in op.errors {
        responses.insert(status.to_string(), failure(reason(*status)));
    }
    responses.insert("default".into(), failure("Any other error"));

    let mut out = Map::new();
    out.insert("operationId".into(), operation_id(op).into());
    out.insert("summary".into(), op.summary.into());
    if !params.is_empty() {
        out.insert("parameters".into(), params.into());
    }
    if let Some((body, required)) = op.body {
        out.insert(
            "requestBody".into(),
            json!({
                "required": required,
                "content": {"application/json": {"schema": body(reads)}},
            }),
        );
    }
    if op.file_body {
        out.insert(
            "requestBody".into(),
            json!({
                "required": true,
                "content": {
                    "multipart/form-data": {"schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}},
                        "required": ["file"],
                    }},
                    "application/octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}},
                },
            }),
        );
    }
    out.insert("responses".into(), responses.into());
    if op.public {
        out.insert("security".into(), json!([]));
    }
    Value::Object(out)
}

/// `{name}` segments of a route's path.
fn path_names(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

/// One query parameter per property of the query struct's object schema.
fn query_params(schema: Schema) -> Vec<Value> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let mut property = property.clone();
            not_null(&mut property);
            let description = property
                .as_object_mut()
                .and_then(|p| p.remove("description"));
            let mut param = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": property,
            });
            if let (Some(d), Value::Object(p)) = (description, &mut param) {
                p.insert("description".into(), d);
            }
            param
        })
        .collect()
}

/// A query parameter is absent or a string: `null` is no value it can have.
fn not_null(schema: &mut Value) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            schema["type"] = only;
        }
    }
}

/// `GET /conversations/{conv}/messages` → `get_conversations_conv_messages`: unique because
/// method and path are, and stable for client generators as long as the route is.
fn operation_id(op: &Op) -> String {
    let mut id = op.method.as_str().to_ascii_lowercase();
    let segments = op.path.split('/').filter(|s| !s.is_empty());
    let mut any = false;
    for segment in segments {
        any = true;
        id.push('_');
        id.extend(segment.chars().filter_map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' => Some(c),
            '{' | '}' => None,
            _ => Some('_'),
        }));
    }
    if !any {
        id.push_str("_root");
    }
    id
}

fn reason(status: u16) -> &'static str {
    actix_web::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Response")
}

#[cfg(test)]
mod tests {
    use actix_web::http::Method;
    use actix_web::HttpResponse;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::{document, Info};
    use crate::openapi::op;

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Filter {
        /// How many.
        limit: Option<u32>,
        #[serde(rename = "as")]
        as_user: String,
    }

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)]
    struct Create {
        name: String,
    }

    #[derive(Serialize, JsonSchema)]
    struct Made {
        id: i64,
        note: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        extra: Option<String>,
    }

    async fn nothing() -> HttpResponse {
        HttpResponse::NoContent().finish()
    }

    const INFO: Info = Info {
        title: "t",
        description: "d",
        base: "/v1",
    };

    #[test]
    fn an_operation_is_described_from_its_types() {
        let ops = vec![
            op(Method::POST, "/things/{thing}/parts", "Add a part", nothing)
                .query::<Filter>()
                .body::<Create>()
                .json::<Made>(201)
                .errors(&[404]),
            op(Method::DELETE, "/things/{thing}", "Remove", nothing).public(),
        ];
        let doc = document(&INFO, &ops, "c");
        let add = &doc["paths"]["/v1/things/{thing}/parts"]["post"];
        assert_eq!(add["operationId"], "post_things_thing_parts");
        assert_eq!(
            add["parameters"],
            json!([
                {"name": "thing", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "as", "in": "query", "required": true, "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "required": false, "description": "How many.",
                 "schema": {"type": "integer", "format": "uint32", "minimum": 0}},
            ])
        );
        assert_eq!(
            add["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Create"
        );
        let made = &doc["components"]["schemas"]["Made"];
        // As serde writes it: `note` is always there (maybe null), `extra` only when set.
        assert_eq!(made["required"], json!(["id", "note"]));
        assert_eq!(
            add["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
        assert!(add["responses"]["default"].is_object());
        assert!(add.get("security").is_none());
        let remove = &doc["paths"]["/v1/things/{thing}"]["delete"];
        assert_eq!(remove["security"], json!([]));
        assert_eq!(
            remove["responses"]["204"],
            json!({"description": "No Content"})
        );
    }
}
