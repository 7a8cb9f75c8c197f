//! `GET /faces`: each vendor face as the admin page's stand-in panel shows it — enabled or
//! not, where it is served, the headers it expects and a curl for its list call, filled with
//! the tenant's own values.

use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::TenantCaller;
use super::dto::{FaceDto, HeaderDto, List, VariableDto};
use super::error::ApiResult;
use crate::app::App;
use crate::faces::stand_in::{self, TenantValues};
use crate::faces::{self, FACES};

pub async fn list(
    app: web::Data<App>,
    caller: TenantCaller,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let tenant = app.service.tenant(caller.tenant).await?;
    let api_key = app
        .service
        .api_keys(caller.tenant)
        .await?
        .into_iter()
        .find(|k| k.revoked_at.is_none())
        .map(|k| k.key);
    let values = TenantValues {
        public_key: tenant.public_key,
        workspace_id: tenant.workspace_id,
        api_key,
    };
    let origin = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let data = FACES
        .iter()
        .map(|face| {
            let base_url = format!("{origin}{}", faces::prefix(&app.settings, face));
            let enabled = app.settings.face(face.name).enabled;
            match stand_in::stand_in(face.name) {
                Some(s) => {
                    let headers: Vec<(&str, String)> = s
                        .headers
                        .iter()
                        .map(|(name, value)| (*name, values.fill(value)))
                        .collect();
                    let url = format!("{base_url}{}", values.fill(s.list_path));
                    let templates: String = s
                        .headers
                        .iter()
                        .map(|(_, value)| *value)
                        .chain([s.list_path])
                        .collect();
                    let missing = values.missing(&templates);
                    FaceDto {
                        name: face.name,
                        vendor: s.vendor,
                        enabled,
                        curl: stand_in::curl(s.method, &url, &headers),
                        headers: headers
                            .into_iter()
                            .map(|(name, value)| HeaderDto { name, value })
                            .collect(),
                        variables: s
                            .variables
                            .iter()
                            .copied()
                            .chain(missing)
                            .map(|(name, description)| VariableDto { name, description })
                            .collect(),
                        list_call: format!("{} {}", s.method, s.list_path),
                        base_url,
                        readme: s.readme,
                    }
                }
                None => FaceDto {
                    name: face.name,
                    vendor: face.name,
                    enabled,
                    base_url,
                    headers: Vec::new(),
                    variables: Vec::new(),
                    list_call: String::new(),
                    curl: String::new(),
                    readme: "",
                },
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(List {
        data,
        next_cursor: None,
    }))
}
