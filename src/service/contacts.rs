//! Whom a signed-in person may find and start a conversation with, and how their own name is
//! shown. A patient's contacts are the clinic's people (providers, staff, admins) they share
//! a conversation with, or that the clinic listed as theirs; everyone else's are every other
//! person of the clinic (patients and colleagues). Machine users are nobody's contact. A user
//! who is not an admin may start a conversation with their contacts only, so a patient can
//! never reach another patient.

use crate::domain::{IdRef, Role, TenantId, User};
use crate::error::{Error, Result};
use crate::service::{Service, MAX_PAGE};
use crate::store::{contacts, users};

/// The longest display name a user may choose for themselves.
pub const MAX_DISPLAY_NAME: usize = 80;

impl Service {
    /// A page of `me`'s contacts, newest user first, below id `before`, matching `name` in
    /// their display, first or last name. One more than `limit`, to tell a next page.
    pub async fn contacts_page(
        &self,
        me: User,
        name: Option<String>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<User>> {
        let limit = limit.min(MAX_PAGE) + 1;
        self.store
            .read(move |c| {
                contacts::list(
                    c,
                    me.tenant_id,
                    &contacts::Query {
                        me: me.id,
                        patient: me.role == Role::Patient,
                        name: name.as_deref().map(str::trim).filter(|n| !n.is_empty()),
                        before,
                        only: None,
                        limit,
                    },
                )
            })
            .await
    }

    /// Refuses a conversation `me` would start with someone who is not their contact. The
    /// error names the entry of `members` at fault; an unknown id reads the same as a
    /// stranger, so ids cannot be probed.
    pub async fn check_may_start(&self, me: User, members: Vec<IdRef>) -> Result<()> {
        self.store
            .read(move |c| {
                for (i, member) in members.iter().enumerate() {
                    let not_yours = || {
                        Error::invalid(
                            format!("participants[{i}]"),
                            "is not one of your contacts (see GET /parlor/v1/contacts)",
                        )
                    };
                    let user = match users::find(c, me.tenant_id, member) {
                        Ok(u) => u,
                        Err(Error::NotFound(_)) => return Err(not_yours()),
                        Err(e) => return Err(e),
                    };
                    if user.id == me.id {
                        continue;
                    }
                    let found = contacts::list(
                        c,
                        me.tenant_id,
                        &contacts::Query {
                            me: me.id,
                            patient: me.role == Role::Patient,
                            name: None,
                            before: None,
                            only: Some(user.id),
                            limit: 1,
                        },
                    )?;
                    if found.is_empty() {
                        return Err(not_yours());
                    }
                }
                Ok(())
            })
            .await
    }

    /// A user's own settings: how their name is shown to others (trimmed, not empty, at most
    /// `MAX_DISPLAY_NAME` characters) and the language they read Parlor in.
    pub async fn update_me(
        &self,
        tenant: TenantId,
        me: User,
        display_name: Option<String>,
        language: Option<Option<String>>,
    ) -> Result<User> {
        if display_name.is_none() && language.is_none() {
            return Err(Error::invalid(
                "display_name",
                "is required unless language is given",
            ));
        }
        let display_name = display_name.map(|n| n.trim().to_string());
        if let Some(name) = &display_name {
            let chars = name.chars().count();
            if chars == 0 || chars > MAX_DISPLAY_NAME {
                return Err(Error::invalid(
                    "display_name",
                    format!(
                        "must be 1-{MAX_DISPLAY_NAME} characters (not counting blanks around it)"
                    ),
                ));
            }
            if name.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "display_name",
                    "must not contain control characters",
                ));
            }
        }
        self.update_user(
            tenant,
            IdRef::Id(me.id.0),
            users::ProfileChange {
                display_name,
                language,
                ..Default::default()
            },
            None,
        )
        .await
    }
}
