//! Domain values into MDLIVE's shapes. The two timestamp styles differ on purpose (reference
//! pages `_get_conversations` and `_get_conversation`): each has one formatter here.

use super::dto::{MessageDto, ProviderDto, SummaryDto};
use crate::domain::clock::Millis;
use crate::domain::time::{rfc3339_ms_at, rfc3339_seconds_offset};
use crate::domain::{Message, User, UserId};
use crate::service::direct::Direct;

/// `last_message_at`: milliseconds, in the tenant's UTC offset ("2018-01-23T08:50:39.000-05:00").
pub fn local_ms(ms: Millis, offset_minutes: i32) -> String {
    rfc3339_ms_at(ms, offset_minutes)
}

/// `date_time`: whole seconds in UTC with an explicit "+00:00" ("2018-01-23T13:50:39+00:00").
pub fn utc_seconds(ms: Millis) -> String {
    rfc3339_seconds_offset(ms)
}

/// "Travis C Stork": first and last name, else the display name.
fn fullname(u: &User) -> String {
    match (&u.profile.first_name, &u.profile.last_name) {
        (Some(first), Some(last)) => format!("{first} {last}"),
        _ => u.display_name.clone(),
    }
}

/// "DR Travis C Stork": how `from` and `to` name people.
pub fn name_with_prefix(u: &User) -> String {
    match &u.profile.prefix {
        Some(prefix) if !prefix.is_empty() => format!("{prefix} {}", fullname(u)),
        _ => fullname(u),
    }
}

pub fn provider(u: &User) -> ProviderDto {
    ProviderDto {
        id: u.id.0,
        prefix: u.profile.prefix.clone(),
        fullname: fullname(u),
        gender: u.profile.gender.clone().unwrap_or_default(),
        photo_url: format!("/users/{}/photo", u.id.0),
        specialty: u.profile.specialty.clone().unwrap_or_default(),
    }
}

/// A conversation summary; `None` for a conversation without messages.
pub fn summary(d: &Direct, patient: UserId, offset_minutes: i32) -> Option<SummaryDto> {
    let last = d.conversation.last_message.as_ref()?;
    Some(SummaryDto {
        provider: provider(&d.other),
        // The vendor shows `null`, not 0, when nothing is unread.
        unread_messages: (d.me.unread_count > 0).then_some(d.me.unread_count),
        recent_message_body: last.text.clone(),
        last_message_at: local_ms(last.at, offset_minutes),
        last_message_by: if last.sender_id == patient {
            "patient"
        } else {
            "provider"
        },
    })
}

/// A message between `a` and `b` (one of them sent it); `unread` is whether its recipient has
/// not read it.
pub fn message(m: &Message, a: &User, b: &User, unread: bool) -> MessageDto {
    let (from, to) = if m.sender_id == a.id { (a, b) } else { (b, a) };
    MessageDto {
        id: m.id.0,
        date_time: utc_seconds(m.created_at),
        from: name_with_prefix(from),
        from_id: from.id.0,
        to: name_with_prefix(to),
        to_id: to.id.0,
        subject: m.subject.clone().unwrap_or_default(),
        message: m.body.clone(),
        unread_status: unread,
        replied_to_message_id: m.reply_to.map(|r| r.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_timestamp_styles() {
        // 2018-01-23T13:50:39Z
        let ms = 1_516_715_439_000;
        assert_eq!(local_ms(ms, -300), "2018-01-23T08:50:39.000-05:00");
        assert_eq!(local_ms(ms + 7, 60), "2018-01-23T14:50:39.007+01:00");
        assert_eq!(local_ms(ms, 0), "2018-01-23T13:50:39.000+00:00");
        assert_eq!(utc_seconds(ms + 999), "2018-01-23T13:50:39+00:00");
    }
}
