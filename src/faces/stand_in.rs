//! What a developer needs to call each face: its headers and its list call. The admin page's
//! stand-in panel (`GET /parlor/v1/faces`) renders this table; the README's "<vendor>
//! stand-in" sections say the same at length. A face without a row here is still listed, with
//! its base URL only.
//!
//! In header values and paths, `{public_key}`, `{workspace_id}` and `{api_key}` are filled from
//! the tenant; `$NAME` stays a shell variable, described in `variables`, for a secret the
//! server cannot show again.

pub struct StandIn {
    pub face: &'static str,
    pub vendor: &'static str,
    pub method: &'static str,
    /// The list call's path under the face's prefix.
    pub list_path: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    pub variables: &'static [(&'static str, &'static str)],
    /// The README section that tells more.
    pub readme: &'static str,
}

pub const STAND_INS: &[StandIn] = &[
    StandIn {
        face: "mdlive",
        vendor: "MDLIVE",
        method: "GET",
        list_path: "/api/v2/patients/$PATIENT_ID/messages/conversations",
        headers: &[("Authorization", "Bearer $JWT")],
        variables: &[
            (
                "JWT",
                "a patient's user token: POST /api/v1/sso_auth/auth_token with one of the \
                 tenant's API keys and its secret",
            ),
            ("PATIENT_ID", "that patient's user id"),
        ],
        readme: "MDLIVE stand-in",
    },
    StandIn {
        face: "pigeons",
        vendor: "EchoSistema Pigeons",
        method: "GET",
        list_path: "/conversations",
        headers: &[
            ("Authorization", "Bearer $TOKEN"),
            ("X-PUBLIC-KEY", "{public_key}"),
        ],
        variables: &[(
            "TOKEN",
            "a user's token with ability backoffice (Users: issue a token)",
        )],
        readme: "Pigeons stand-in",
    },
    StandIn {
        face: "trillet",
        vendor: "Trillet",
        method: "GET",
        list_path: "/conversations",
        headers: &[
            ("x-api-key", "$API_SECRET"),
            ("x-workspace-id", "{workspace_id}"),
        ],
        variables: &[(
            "API_SECRET",
            "the secret of one of the tenant's API keys (shown once, when created)",
        )],
        readme: "Trillet stand-in",
    },
    StandIn {
        face: "respondent",
        vendor: "Respondent",
        method: "GET",
        list_path: "/conversations",
        headers: &[("x-api-key", "{api_key}"), ("x-api-secret", "$API_SECRET")],
        variables: &[(
            "API_SECRET",
            "the secret of that API key (shown once, when created)",
        )],
        readme: "Respondent stand-in",
    },
    StandIn {
        face: "tati",
        vendor: "Tati",
        method: "GET",
        list_path: "/patients/conversations/",
        headers: &[("Authorization", "Token $TOKEN")],
        variables: &[(
            "TOKEN",
            "a patient's token: POST /v0.1/token/ with their username and password, or a \
             token with ability tati",
        )],
        readme: "Tati stand-in",
    },
];

pub fn stand_in(face: &str) -> Option<&'static StandIn> {
    STAND_INS.iter().find(|s| s.face == face)
}

/// The tenant's values that fill the placeholders; None where the tenant has none.
#[derive(Default)]
pub struct TenantValues {
    pub public_key: Option<String>,
    pub workspace_id: Option<String>,
    pub api_key: Option<String>,
}

impl TenantValues {
    /// A template with the tenant's values in place. A value the tenant lacks becomes a shell
    /// variable of the same name in capitals, so the curl still shows where it goes.
    /// The placeholders `template` uses that the tenant has no value for, as the shell
    /// variables `fill` leaves in their place, with what to put there.
    pub fn missing(&self, template: &str) -> Vec<(&'static str, &'static str)> {
        [
            (
                "public_key",
                &self.public_key,
                "PUBLIC_KEY",
                "the tenant's public key (none is set for this tenant)",
            ),
            (
                "workspace_id",
                &self.workspace_id,
                "WORKSPACE_ID",
                "the tenant's workspace id (none is set for this tenant)",
            ),
            (
                "api_key",
                &self.api_key,
                "API_KEY",
                "one of the tenant's API keys (it has none yet: create one)",
            ),
        ]
        .into_iter()
        .filter(|(name, value, _, _)| value.is_none() && template.contains(&format!("{{{name}}}")))
        .map(|(_, _, variable, description)| (variable, description))
        .collect()
    }

    pub fn fill(&self, template: &str) -> String {
        let mut out = template.to_string();
        for (name, value) in [
            ("public_key", &self.public_key),
            ("workspace_id", &self.workspace_id),
            ("api_key", &self.api_key),
        ] {
            let shown = match value {
                Some(v) => shell_safe(v),
                None => format!("${}", name.to_ascii_uppercase()),
            };
            out = out.replace(&format!("{{{name}}}"), &shown);
        }
        out
    }
}

/// A value for inside double quotes in a shell: `"`, `\`, `$` and backquotes escaped.
fn shell_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        if matches!(ch, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// `curl -s "<url>" -H "Name: value" ...`, with shell variables left to expand.
pub fn curl(method: &str, url: &str, headers: &[(&str, String)]) -> String {
    let mut out = String::from("curl -s");
    if method != "GET" {
        out.push_str(&format!(" -X {method}"));
    }
    out.push_str(&format!(" \"{url}\""));
    for (name, value) in headers {
        out.push_str(&format!(" -H \"{name}: {value}\""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_face_has_a_row() {
        for face in super::super::FACES {
            assert!(stand_in(face.name).is_some(), "{} has no row", face.name);
        }
    }

    #[test]
    fn tenant_values_fill_in_and_missing_ones_stay_variables() {
        let values = TenantValues {
            public_key: Some("pk_\"x$".into()),
            ..TenantValues::default()
        };
        assert_eq!(values.fill("{public_key}"), "pk_\\\"x\\$");
        assert_eq!(values.fill("{workspace_id}"), "$WORKSPACE_ID");
        assert_eq!(values.missing("{public_key} {workspace_id}").len(), 1);
        assert_eq!(
            curl("GET", "http://h/c", &[("X-A", "$T".into())]),
            "curl -s \"http://h/c\" -H \"X-A: $T\""
        );
    }
}
