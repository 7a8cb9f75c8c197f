//! The domain records the service layer hands to faces.

use serde_json::Value;

use super::clock::Millis;
use super::ids::{ConversationId, MessageId, TenantId, UserId};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// `"a", "b" or "c"`, for error messages.
            pub fn choices() -> String {
                let all: Vec<String> = Self::ALL.iter().map(|v| format!("\"{}\"", v.as_str())).collect();
                all.join(", ")
            }
        }
    };
}

string_enum!(
    /// What a user is in their tenant. Faces pick users by role (MDLIVE providers, Trillet
    /// customers and agents, the Tati assistant...).
    Role {
        Patient = "patient",
        Provider = "provider",
        Staff = "staff",
        Customer = "customer",
        Agent = "agent",
        Assistant = "assistant",
        System = "system",
        Participant = "participant",
        Admin = "admin",
    }
);

string_enum!(MessageKind {
    Text = "text",
    Image = "image",
    File = "file",
    Audio = "audio",
    Video = "video",
});

string_enum!(
    /// Trillet's outbound review states, plus `received` for inbound messages.
    MessageStatus {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
        Received = "received",
    }
);

string_enum!(ConversationStatus {
    Active = "active",
    Archived = "archived",
});

#[derive(Clone, Debug, PartialEq)]
pub struct Tenant {
    pub id: TenantId,
    pub uuid: String,
    pub name: String,
    pub public_key: Option<String>,
    pub workspace_id: Option<String>,
    pub utc_offset_minutes: i32,
    pub owner_id: Option<UserId>,
    pub assistant_id: Option<UserId>,
    pub created_at: Millis,
}

/// What a user says about themselves: the descriptive fields of a user, declared once for every
/// layer that carries them (the record, its row, creating and changing a user).
///
/// `F` is what each field holds: the value (`Option<String>`, the default), or for a change
/// whether and how to touch it (`ProfilePatch`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile<F = Option<String>> {
    pub first_name: F,
    pub last_name: F,
    pub prefix: F,
    pub gender: F,
    pub email: F,
    pub phone: F,
    pub avatar_url: F,
    pub specialty: F,
    pub birthdate: F,
}

/// A change to a profile: `None` leaves a field alone, `Some(None)` clears it.
pub type ProfilePatch = Profile<Option<Option<String>>>;

impl Profile {
    /// This profile with `patch` applied.
    pub fn patched(self, patch: ProfilePatch) -> Profile {
        let pick = |new: Option<Option<String>>, old: Option<String>| new.unwrap_or(old);
        Profile {
            first_name: pick(patch.first_name, self.first_name),
            last_name: pick(patch.last_name, self.last_name),
            prefix: pick(patch.prefix, self.prefix),
            gender: pick(patch.gender, self.gender),
            email: pick(patch.email, self.email),
            phone: pick(patch.phone, self.phone),
            avatar_url: pick(patch.avatar_url, self.avatar_url),
            specialty: pick(patch.specialty, self.specialty),
            birthdate: pick(patch.birthdate, self.birthdate),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: UserId,
    pub uuid: String,
    pub oid: String,
    pub tenant_id: TenantId,
    pub role: Role,
    pub display_name: String,
    pub profile: Profile,
    pub external_id: Option<String>,
    pub username: Option<String>,
    pub has_password: bool,
    /// The language they read Parlor in, one of `LANGUAGES`; None until they choose.
    pub language: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// The languages the clinic's app and the e-mail notices are written in.
pub const LANGUAGES: &[&str] = &["en", "es"];

/// Pigeons' polymorphic "taggable".
#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    pub kind: String,
    pub id: Option<Value>,
    pub info: Option<Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LastMessage {
    pub id: MessageId,
    pub text: String,
    pub at: Millis,
    pub sender_id: UserId,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    pub id: ConversationId,
    pub uuid: String,
    pub oid: String,
    pub tenant_id: TenantId,
    pub name: Option<String>,
    pub status: ConversationStatus,
    pub archived_at: Option<Millis>,
    pub locked: bool,
    pub deleted: bool,
    pub tag: Option<Tag>,
    pub metadata: Value,
    pub flow_id: Option<i64>,
    pub agent_id: Option<UserId>,
    pub customer_id: Option<UserId>,
    pub created_by: Option<UserId>,
    pub last_seq: i64,
    pub last_message: Option<LastMessage>,
    pub message_count: i64,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// One user's membership of one conversation, with their read state.
#[derive(Clone, Debug, PartialEq)]
pub struct Participant {
    pub conversation_id: ConversationId,
    pub user_id: UserId,
    pub joined_at: Millis,
    pub unread_count: i64,
    pub last_read_at: Option<Millis>,
    pub last_read_seq: i64,
    pub muted: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub uuid: String,
    pub oid: String,
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub seq: i64,
    pub sender_id: UserId,
    pub recipient_id: Option<UserId>,
    pub body: String,
    pub kind: MessageKind,
    pub subject: Option<String>,
    pub reply_to: Option<MessageId>,
    pub status: Option<MessageStatus>,
    pub metadata: Value,
    pub attachments: Value,
    /// Uploaded files the message carries (issue 16).
    pub files: Vec<super::FileRef>,
    pub device: Option<Value>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A conversation as one participant sees it in their list.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationView {
    pub conversation: Conversation,
    pub me: Participant,
}

/// A single-message read above a reader's horizon.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRead {
    pub user_id: UserId,
    pub seq: i64,
    pub read_at: Millis,
}

string_enum!(
    /// How a Trillet flow reaches its customers.
    FlowChannel {
        Sms = "sms",
        Email = "email",
    }
);

/// A Trillet flow ("pathway"): an agent reaching customers on one channel with an opening
/// message.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub id: i64,
    pub oid: String,
    pub tenant_id: TenantId,
    pub name: String,
    pub channel: FlowChannel,
    pub agent_id: Option<UserId>,
    pub initiation_message: String,
    pub created_at: Millis,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    pub id: i64,
    pub tenant_id: TenantId,
    pub key: String,
    pub label: Option<String>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub id: i64,
    pub tenant_id: Option<TenantId>,
    pub user_id: Option<UserId>,
    pub abilities: Vec<String>,
    pub label: Option<String>,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl Token {
    pub fn can(&self, ability: &str) -> bool {
        self.abilities.iter().any(|a| a == "*" || a == ability)
    }

    pub fn is_server_admin(&self) -> bool {
        self.user_id.is_none() && self.tenant_id.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::{Profile, ProfilePatch};

    /// Each field holds its own name, so that a field read from the wrong place shows.
    fn named() -> Profile {
        let v = |name: &str| Some(name.to_string());
        Profile {
            first_name: v("first_name"),
            last_name: v("last_name"),
            prefix: v("prefix"),
            gender: v("gender"),
            email: v("email"),
            phone: v("phone"),
            avatar_url: v("avatar_url"),
            specialty: v("specialty"),
            birthdate: v("birthdate"),
        }
    }

    #[test]
    fn a_patch_sets_clears_or_keeps_each_field() {
        let old = named();
        assert_eq!(old.clone().patched(ProfilePatch::default()), old);

        let set = ProfilePatch {
            specialty: Some(Some("Cardiology".into())),
            birthdate: Some(None),
            ..ProfilePatch::default()
        };
        let patched = old.clone().patched(set);
        assert_eq!(patched.specialty.as_deref(), Some("Cardiology"));
        assert_eq!(patched.birthdate, None);
        assert_eq!(
            Profile {
                specialty: old.specialty.clone(),
                birthdate: old.birthdate.clone(),
                ..patched
            },
            old
        );

        let clear_all = ProfilePatch {
            first_name: Some(None),
            last_name: Some(None),
            prefix: Some(None),
            gender: Some(None),
            email: Some(None),
            phone: Some(None),
            avatar_url: Some(None),
            specialty: Some(None),
            birthdate: Some(None),
        };
        assert_eq!(old.patched(clear_all), Profile::default());
    }
}
