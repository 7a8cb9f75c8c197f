//! Which face a request belongs to, decided before routing, so that each face keeps its
//! framework's habits: paths as its router reads them (`framework.rs`), CORS as its middleware
//! answers (`cors.rs`), and its own 404 for a path under it that no route matches — never the
//! native one.
//!
//! A face owns the paths under its prefix; a face served from the server root owns only those
//! under its roots (MDLIVE: `/api/...` and `/auth/...`, not everything). Faces with longer
//! prefixes are asked first, as they are mounted.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::ORIGIN;
use actix_web::http::uri::{PathAndQuery, Uri};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

use super::cors::Policy;
use super::{prefix, Face, FACES};
use crate::config::Settings;

/// An enabled face, where it is mounted and its CORS policy.
struct Door {
    face: &'static Face,
    prefix: String,
    cors: Option<Arc<Policy>>,
}

impl Door {
    /// `path` as this face's framework reads it, when the face owns it.
    fn claims<'p>(&self, path: &'p str) -> Option<Cow<'p, str>> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        let read = self.face.framework.normalize(rest);
        // Under a prefix of its own a face owns everything; at the root, only its roots.
        let owned = !self.prefix.is_empty()
            || self.face.roots.iter().any(|root| {
                read.strip_prefix(root)
                    .is_some_and(|after| after.is_empty() || after.starts_with('/'))
            });
        if !owned {
            return None;
        }
        Some(if read == rest {
            Cow::Borrowed(path)
        } else if self.prefix.is_empty() && read.is_empty() {
            Cow::Owned("/".to_string())
        } else {
            Cow::Owned(format!("{}{read}", self.prefix))
        })
    }
}

/// The enabled faces, in mounting order.
pub struct Doors {
    doors: Vec<Door>,
}

/// What the front door does with a request before routing.
enum Plan {
    /// Not a face's: route as it is.
    Pass,
    /// A face's, routed under `path` (its framework's reading of the request path).
    Face { door: usize, path: Option<String> },
    /// A face's, but its framework's reading of the path lands under another face: the owner
    /// has no such route.
    NotFound(usize),
}

impl Doors {
    /// The faces' doors; `stand_in`: the server is a stand-in (its CORS answers allow the
    /// sandbox headers).
    pub fn new(settings: &Settings, stand_in: bool) -> Doors {
        let doors = FACES
            .iter()
            .filter(|face| settings.face(face.name).enabled)
            .map(|face| Door {
                face,
                prefix: prefix(settings, face),
                cors: Policy::new(
                    face.framework,
                    &settings.face(face.name).cors_origins,
                    stand_in,
                )
                .map(Arc::new),
            })
            .collect();
        Doors { doors }
    }

    fn owner<'p>(&self, path: &'p str) -> Option<(usize, Cow<'p, str>)> {
        self.doors
            .iter()
            .enumerate()
            .find_map(|(i, door)| door.claims(path).map(|read| (i, read)))
    }

    fn plan(&self, path: &str) -> Plan {
        let Some((door, read)) = self.owner(path) else {
            return Plan::Pass;
        };
        if read == path {
            return Plan::Face { door, path: None };
        }
        match self.owner(&read) {
            Some((again, _)) if again == door => Plan::Face {
                door,
                path: Some(read.into_owned()),
            },
            _ => Plan::NotFound(door),
        }
    }

    /// The 404 of the face that owns the request's path, if a face does.
    pub fn not_found(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let (door, _) = self.owner(req.path())?;
        Some((self.doors[door].face.not_found)(req))
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<ServiceResponse, actix_web::Error>>>>;

/// Runs before routing (`App::wrap_fn`): answers a face's CORS preflight, reads the path the
/// way the face's framework does, and adds the face's CORS headers to its answer.
pub fn front_door<S>(doors: &Doors, mut req: ServiceRequest, routes: &S) -> Answer
where
    S: Service<ServiceRequest, Response = ServiceResponse, Error = actix_web::Error>,
    S::Future: 'static,
{
    let door = match doors.plan(req.path()) {
        Plan::Pass => return Box::pin(routes.call(req)),
        Plan::NotFound(door) => {
            let face = doors.doors[door].face;
            let response = (face.not_found)(req.request());
            return Box::pin(async move { Ok(req.into_response(response)) });
        }
        Plan::Face { door, path } => {
            if let Some(path) = path {
                set_path(&mut req, &path);
            }
            req.extensions_mut()
                .insert(crate::audit::trail::Face(doors.doors[door].face.name));
            &doors.doors[door]
        }
    };
    let Some(cors) = door.cors.clone() else {
        return Box::pin(routes.call(req));
    };
    if let Some(response) = cors.preflight(req.method(), req.headers()) {
        return Box::pin(async move { Ok(req.into_response(response)) });
    }
    let origin = req
        .headers()
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let answer = routes.call(req);
    Box::pin(async move {
        let mut response = answer.await?;
        cors.decorate(origin.as_deref(), response.headers_mut());
        Ok(response)
    })
}

/// The path a request was sent with, before its face's framework read it.
#[derive(Clone, Debug)]
struct SentPath(String);

/// The request's path as the client sent it (Express quotes it in its 404).
pub fn sent_path(req: &HttpRequest) -> String {
    req.extensions()
        .get::<SentPath>()
        .map_or_else(|| req.path().to_string(), |p| p.0.clone())
}

/// Routes the request under `path`, keeping its query string.
fn set_path(req: &mut ServiceRequest, path: &str) {
    let sent = SentPath(req.path().to_string());
    req.extensions_mut().insert(sent);
    let uri = &req.head().uri;
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) else {
        return;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doors(configure: impl FnOnce(&mut Settings)) -> Doors {
        let mut settings = Settings::default();
        configure(&mut settings);
        Doors::new(&settings, false)
    }

    fn routed(doors: &Doors, path: &str) -> Option<(&'static str, Option<String>)> {
        match doors.plan(path) {
            Plan::Pass => None,
            Plan::Face { door, path } => Some((doors.doors[door].face.name, path)),
            Plan::NotFound(door) => Some((doors.doors[door].face.name, Some("404".into()))),
        }
    }

    #[test]
    fn each_face_reads_its_paths_its_frameworks_way() {
        let d = doors(|_| {});
        let some = |name: &'static str, path: &str| Some((name, Some(path.to_string())));
        assert_eq!(
            routed(&d, "//api/v2/patients/52/messages/conversations"),
            some("mdlive", "/api/v2/patients/52/messages/conversations")
        );
        assert_eq!(
            routed(&d, "/auth/auth_token/"),
            some("mdlive", "/auth/auth_token")
        );
        assert_eq!(routed(&d, "/api/v2/x"), Some(("mdlive", None)));
        assert_eq!(
            routed(&d, "/api/v1/pigeons/chat/conversations//"),
            some("pigeons", "/api/v1/pigeons/chat/conversations")
        );
        assert_eq!(
            routed(&d, "/v1/messaging/conversations/"),
            some("respondent", "/v1/messaging/conversations")
        );
        assert_eq!(
            routed(&d, "/v1/messaging/conversations//"),
            some("respondent", "/v1/messaging/conversations/")
        );
        assert_eq!(
            routed(&d, "/v1/api/conversations/"),
            some("trillet", "/v1/api/conversations")
        );
        assert_eq!(routed(&d, "/v0.1/token"), Some(("tati", None)));
        // Not a face's: the native API, the admin page, anything else.
        assert_eq!(routed(&d, "/parlor/v1/users/"), None);
        assert_eq!(routed(&d, "/admin/"), None);
        assert_eq!(routed(&d, "/definitely/not/here"), None);
        assert_eq!(routed(&d, "//"), None);
        assert_eq!(routed(&d, "/v1/messagingx"), None);
        // Squeezed into another face's prefix: MDLIVE's path, and MDLIVE has no such route.
        assert_eq!(
            routed(&d, "//api/v1/pigeons/chat/conversations"),
            some("mdlive", "404")
        );
    }

    #[test]
    fn re_based_and_switched_off_faces() {
        let d = doors(|s| {
            s.faces.get_mut("mdlive").unwrap().base_path = Some("/mdlive".into());
            s.faces.get_mut("trillet").unwrap().enabled = false;
        });
        assert_eq!(
            routed(&d, "/mdlive//api/v2/x/"),
            Some(("mdlive", Some("/mdlive/api/v2/x".into())))
        );
        assert_eq!(routed(&d, "/mdlive/elsewhere"), Some(("mdlive", None)));
        assert_eq!(routed(&d, "/api/v2/x"), None);
        assert_eq!(routed(&d, "/v1/api/conversations/"), None);
    }
}
