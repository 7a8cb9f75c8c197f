//! `POST /__parlor/reset` and `/__parlor/snapshots`: save the state under a name, list, restore,
//! delete. With `X-Parlor-Sandbox` each acts on that sandbox's database (the admission
//! middleware hands the handlers the sandbox's app); the snapshots themselves are shared, so a
//! snapshot taken in one sandbox can start or restore another, or the server's own store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{blocking, restore, Name, State};
use crate::app::App;
use crate::control::auth::ServerAdmin;
use crate::domain::time::rfc3339_ms;
use crate::error::Error;
use crate::native::error::ApiResult;
use crate::native::extract::Json;
use crate::openapi::{op, Op};

/// The snapshots taken since the start (the control directory is made afresh at each start).
#[derive(Default)]
pub struct Catalog(Mutex<BTreeMap<Name, Entry>>);

#[derive(Clone, Copy)]
struct Entry {
    /// Parlor's clock when it was asked for (millis).
    created_at: i64,
    /// Bytes; `None` while the copy is being made.
    size: Option<u64>,
}

impl Catalog {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Name, Entry>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `name` is a snapshot that can be read (taken in full).
    pub fn holds(&self, name: &Name) -> bool {
        self.lock().get(name).is_some_and(|e| e.size.is_some())
    }
}

/// Reset and the snapshots, for the control plane's table.
pub fn operations() -> Vec<Op> {
    use crate::control::ADMIN;
    vec![
        op(
            Method::POST,
            "/reset",
            "Back to the state the server started with",
            reset,
        )
        .empty(204)
        .errors(ADMIN),
        op(
            Method::POST,
            "/snapshots",
            "Save the state as it is now under a name",
            take,
        )
        .body::<TakeBody>()
        .json::<SnapshotDto>(201)
        .errors(&[400, 401, 403, 409]),
        op(Method::GET, "/snapshots", "The snapshots, by name", list)
            .json::<SnapshotsDto>(200)
            .errors(ADMIN),
        op(
            Method::POST,
            "/snapshots/{name}/restore",
            "Back to that snapshot",
            restore_one,
        )
        .empty(204)
        .errors(&[400, 401, 403, 404]),
        op(
            Method::DELETE,
            "/snapshots/{name}",
            "Forget a snapshot",
            delete,
        )
        .empty(204)
        .errors(&[400, 401, 403, 404]),
    ]
}

/// `POST /__parlor/reset`: back to the state the server started with.
async fn reset(
    _admin: ServerAdmin,
    app: web::Data<App>,
    state: web::Data<State>,
) -> ApiResult<HttpResponse> {
    restore(&app, state.files.start()).await?;
    // After a reset the same requests get the same ids as after start-up (seeded or not).
    app.service.ids().reseed();
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TakeBody {
    name: String,
}

#[derive(Serialize, JsonSchema)]
struct SnapshotDto {
    name: String,
    created_at: String,
    size: u64,
}

#[derive(Serialize, JsonSchema)]
struct SnapshotsDto {
    snapshots: Vec<SnapshotDto>,
}

/// `POST /__parlor/snapshots {"name"}`: a consistent copy of the database as it is now, taken
/// while the server goes on serving.
async fn take(
    _admin: ServerAdmin,
    app: web::Data<App>,
    state: web::Data<State>,
    body: Json<TakeBody>,
) -> ApiResult<HttpResponse> {
    let name = Name::parse("name", &body.0.name)?;
    let created_at = app.service.now();
    {
        let mut catalog = state.snapshots.lock();
        if catalog.contains_key(&name) {
            return Err(Error::Conflict(format!(
                "a snapshot named {:?} already exists; delete it first or choose another name",
                name.as_str()
            ))
            .into());
        }
        catalog.insert(
            name.clone(),
            Entry {
                created_at,
                size: None,
            },
        );
    }
    let dest = state.files.snapshot(&name);
    let store = app.service.store.clone();
    let copied = blocking(move || {
        // Taken under another name and renamed: a snapshot's file is whole or absent.
        let mut part = dest.clone().into_os_string();
        part.push(".part");
        let part = std::path::PathBuf::from(part);
        store.copy_to(&part)?;
        std::fs::rename(&part, &dest)
            .map_err(|e| Error::internal(format!("{}: {e}", dest.display())))?;
        std::fs::metadata(&dest)
            .map(|m| m.len())
            .map_err(|e| Error::internal(format!("{}: {e}", dest.display())))
    })
    .await;
    let mut catalog = state.snapshots.lock();
    match copied {
        Ok(size) => {
            catalog.insert(
                name.clone(),
                Entry {
                    created_at,
                    size: Some(size),
                },
            );
            Ok(HttpResponse::Created().json(SnapshotDto {
                name: name.0,
                created_at: rfc3339_ms(created_at),
                size,
            }))
        }
        Err(e) => {
            catalog.remove(&name);
            Err(e.into())
        }
    }
}

/// `GET /__parlor/snapshots`: by name.
async fn list(_admin: ServerAdmin, state: web::Data<State>) -> ApiResult<HttpResponse> {
    let snapshots = state
        .snapshots
        .lock()
        .iter()
        .filter_map(|(name, e)| {
            Some(SnapshotDto {
                name: name.0.clone(),
                created_at: rfc3339_ms(e.created_at),
                size: e.size?,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(SnapshotsDto { snapshots }))
}

fn known(state: &State, name: &str) -> Result<Name, Error> {
    let name = Name::parse("name", name)?;
    if !state.snapshots.holds(&name) {
        return Err(Error::NotFound("snapshot"));
    }
    Ok(name)
}

/// `POST /__parlor/snapshots/{name}/restore`.
async fn restore_one(
    _admin: ServerAdmin,
    app: web::Data<App>,
    state: web::Data<State>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let name = known(&state, &name)?;
    restore(&app, state.files.snapshot(&name)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /__parlor/snapshots/{name}`.
async fn delete(
    _admin: ServerAdmin,
    state: web::Data<State>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let name = known(&state, &name)?;
    // Kept, unreadable, until the file is gone: a new snapshot of the same name meanwhile would
    // have its file removed by this delete.
    if let Some(entry) = state.snapshots.lock().get_mut(&name) {
        entry.size = None;
    }
    let file = state.files.snapshot(&name);
    // A restore or a sandbox reading the file now keeps reading it: the name goes, not the data.
    let removed = blocking(move || {
        std::fs::remove_file(&file).map_err(|e| Error::internal(format!("{}: {e}", file.display())))
    })
    .await;
    state.snapshots.lock().remove(&name);
    removed?;
    Ok(HttpResponse::NoContent().finish())
}
