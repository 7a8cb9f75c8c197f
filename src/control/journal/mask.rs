//! Secrets kept out of the journal: credential headers, secret fields of JSON bodies and of
//! query strings. A test suite reads the journal (and may attach its HAR to a bug report), so
//! nothing in it may let a reader act as the caller.

/// What a secret is recorded as.
pub const MASK: &str = "***";

/// Headers whose value is a credential. `X-PUBLIC-KEY` (Pigeons) is not: it names a tenant,
/// and a test needs to see which one was called.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-api-secret",
    "x-parlor-csrf",
];

/// A header's value as recorded.
pub fn header(name: &str, value: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if !SECRET_HEADERS.contains(&lower.as_str()) {
        return value.to_string();
    }
    match lower.as_str() {
        // The scheme word says how the caller authenticated ("Bearer ***").
        "authorization" | "proxy-authorization" => match value.trim().split_once(' ') {
            Some((scheme, _)) => format!("{scheme} {MASK}"),
            None => MASK.to_string(),
        },
        // The cookie's names say which session it was, its values are the secret.
        "cookie" => value
            .split(';')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{}={MASK}", name.trim()),
                None => MASK.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        "set-cookie" => match value.split_once(';') {
            Some((pair, attributes)) => format!("{};{attributes}", header("cookie", pair)),
            None => header("cookie", value),
        },
        _ => MASK.to_string(),
    }
}

/// Whether a field of that name holds a secret: password, api_key, api_secret, token,
/// access_token, refresh_token, secret, jwt and their spellings (`apiKey`, `new_password`).
pub fn is_secret_field(name: &str) -> bool {
    // Called for every key of every recorded body: compared from the end, without allocating.
    let mut squeezed = name
        .bytes()
        .rev()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase());
    let mut tail = [0u8; 8];
    let mut n = 0;
    for b in squeezed.by_ref().take(tail.len()) {
        tail[tail.len() - 1 - n] = b;
        n += 1;
    }
    let tail = &tail[tail.len() - n..];
    let whole = squeezed.next().is_none();
    tail.ends_with(b"password")
        || tail.ends_with(b"secret")
        || tail.ends_with(b"token")
        || (whole && (tail == b"apikey" || tail == b"jwt"))
}

/// A query string with the values of secret parameters masked.
pub fn query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_field(&decoded(name)) => format!("{name}={MASK}"),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn decoded(name: &str) -> String {
    form_urlencoded::parse(name.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// Where an invite or reset link (`service::invites::link`) carries its secret.
const WELCOME: &str = "/app/#/welcome/";

/// A body as recorded: JSON (whole or cut off at the size limit) with the value of every
/// secret field masked; a form body with its secret fields masked; anything else as it is.
/// Invite links lose their secret in all of them.
pub fn body(text: &str, content_type: Option<&str>) -> String {
    let masked = fields(text, content_type);
    if !masked.contains(WELCOME) {
        return masked;
    }
    let mut out = String::with_capacity(masked.len());
    let mut rest = masked.as_str();
    while let Some(at) = rest.find(WELCOME) {
        let (before, after) = rest.split_at(at + WELCOME.len());
        out.push_str(before);
        out.push_str(MASK);
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn fields(text: &str, content_type: Option<&str>) -> String {
    let kind = content_type.unwrap_or("").to_ascii_lowercase();
    if kind.contains("x-www-form-urlencoded") {
        return query(text);
    }
    let starts_json = matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['));
    if kind.contains("json") || starts_json {
        return json(text);
    }
    text.to_string()
}

/// Masks the value after every secret key in JSON text. A scanner rather than a parser: a body
/// cut at the size limit is not valid JSON, and its secrets must go all the same.
pub fn json(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // The last string read, and whether a ':' followed it (it was a key).
    let mut last_string: Option<(usize, usize)> = None;
    let mut pending_secret = false;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let end = string_end(bytes, i);
                if pending_secret {
                    out.push_str(&text[copied..i]);
                    out.push('"');
                    out.push_str(MASK);
                    out.push('"');
                    copied = end;
                    pending_secret = false;
                    last_string = None;
                } else {
                    last_string = Some((i + 1, end.saturating_sub(1).max(i + 1)));
                }
                i = end;
            }
            b':' => {
                pending_secret = last_string
                    .is_some_and(|(from, to)| is_secret_field(&text[from..to.min(text.len())]));
                last_string = None;
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            _ if pending_secret => {
                // A secret that is not a string (a number, an object): masked up to where the
                // value ends at its own nesting level.
                let end = value_end(bytes, i);
                out.push_str(&text[copied..i]);
                out.push('"');
                out.push_str(MASK);
                out.push('"');
                copied = end;
                pending_secret = false;
                i = end;
            }
            _ => {
                last_string = None;
                i += 1;
            }
        }
    }
    if pending_secret {
        // The body was cut right after the key: nothing of the value to keep.
        return out + &text[copied..];
    }
    out.push_str(&text[copied..]);
    out
}

/// The index just past the string that opens at `start` (or the end of a cut-off text).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index just past a non-string value that starts at `start`.
fn value_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return i,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b',' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers_keep_only_their_scheme_and_names() {
        assert_eq!(header("Authorization", "Bearer abc.def"), "Bearer ***");
        assert_eq!(header("authorization", "abc"), "***");
        assert_eq!(
            header("Cookie", "parlor_session=x; lang=es"),
            "parlor_session=***; lang=***"
        );
        assert_eq!(
            header("Set-Cookie", "parlor_session=x; Path=/; HttpOnly"),
            "parlor_session=***; Path=/; HttpOnly"
        );
        assert_eq!(header("x-api-secret", "s3cr3t"), "***");
        assert_eq!(header("X-PUBLIC-KEY", "pk_1"), "pk_1");
        assert_eq!(
            header("Content-Type", "application/json"),
            "application/json"
        );
    }

    #[test]
    fn json_secrets_are_masked_whole_or_cut_off() {
        assert_eq!(
            json(r#"{"username":"ana","password":"p\"w","n":{"api_key":"k"},"t":"token"}"#),
            r#"{"username":"ana","password":"***","n":{"api_key":"***"},"t":"token"}"#
        );
        assert_eq!(
            json(r#"{"token": 12345, "refresh_token": {"a": 1}, "ok": true}"#),
            r#"{"token": "***", "refresh_token": "***", "ok": true}"#
        );
        assert_eq!(
            json(r#"{"a":1,"accessToken":"abcd"#),
            r#"{"a":1,"accessToken":"***""#
        );
        assert_eq!(json(r#"{"secret":"#), r#"{"secret":"#);
        assert_eq!(json(r#"["password", "x"]"#), r#"["password", "x"]"#);
    }

    #[test]
    fn query_and_form_secrets_are_masked() {
        assert_eq!(
            query("a=1&access_token=xyz&b=2"),
            "a=1&access_token=***&b=2"
        );
        assert_eq!(
            body(
                "username=a&password=b",
                Some("application/x-www-form-urlencoded")
            ),
            "username=a&password=***"
        );
        assert_eq!(
            body("plain password: x", Some("text/plain")),
            "plain password: x"
        );
    }
}
