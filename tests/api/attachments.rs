//! Attachments (issue 16): uploads stored in the database file in checked chunks, downloads
//! only for the conversation's participants and admins, served safely (never inline when
//! active), with ranges, limits and quota, and gone with their message.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{spawn_with, TestApp, ADMIN_TOKEN};

/// An answer with its body as bytes (the connection tests' `Raw`).
pub use crate::connections::Raw as Got;

fn got(result: Result<ureq::Response, ureq::Error>) -> Got {
    let (status, headers, response) = crate::helpers::answered(result);
    let mut body = Vec::new();
    response
        .into_reader()
        .take(64 * 1024 * 1024)
        .read_to_end(&mut body)
        .expect("read the body");
    Got {
        status,
        headers,
        body,
    }
}

/// A raw upload of `bytes` named `name`, claiming `claimed` as its type.
pub fn upload_raw(req: ureq::Request, name: &str, claimed: &str, bytes: &[u8]) -> Got {
    got(req
        .query("filename", name)
        .set("Content-Type", claimed)
        .send_bytes(bytes))
}

/// A `multipart/form-data` upload with a caption field and a `file` part.
pub fn upload_form(req: ureq::Request, name: &str, claimed: &str, bytes: &[u8]) -> Got {
    let boundary = "parlorBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhello\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: {claimed}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    got(req
        .set(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .send_bytes(&body))
}

/// Bytes that look like nothing in particular (no detectable type), `len` of them.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    // A leading zero keeps it from looking like any known format.
    if let Some(b) = out.first_mut() {
        *b = 0;
    }
    out
}

/// The smallest PNG: 1×1, one transparent pixel.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// A tenant with two participants (a patient and a provider) in one conversation, an outsider
/// in the same tenant, and a second tenant with its own admin.
pub struct Clinic {
    pub app: TestApp,
    pub tenant: i64,
    pub patient: i64,
    pub provider: i64,
    pub outsider: i64,
    pub conv: i64,
    pub patient_token: String,
    pub provider_token: String,
    pub outsider_token: String,
    pub tenant_admin_token: String,
    pub other_admin_token: String,
}

pub fn clinic_with(configure: impl FnOnce(&mut parlor::config::Settings)) -> Clinic {
    let app = spawn_with(configure);
    let tenant = app.create_tenant("Riverside");
    let user = |role: &str, name: &str| {
        app.create_user(tenant, json!({"role": role, "display_name": name}))["id"]
            .as_i64()
            .unwrap()
    };
    let patient = user("patient", "Pat");
    let provider = user("provider", "Dr Lee");
    let outsider = user("patient", "Other");
    let admin = user("admin", "Ada");
    let conv = app.create_conversation(tenant, &[patient, provider])["id"]
        .as_i64()
        .unwrap();
    let other = app.create_tenant("Elsewhere");
    let other_admin = app.create_user(other, json!({"role": "admin", "display_name": "Eve"}))["id"]
        .as_i64()
        .unwrap();
    Clinic {
        patient_token: app.token_for(tenant, patient, &["*"]),
        provider_token: app.token_for(tenant, provider, &["*"]),
        outsider_token: app.token_for(tenant, outsider, &["*"]),
        tenant_admin_token: app.token_for(tenant, admin, &["*"]),
        other_admin_token: app.token_for(other, other_admin, &["*"]),
        app,
        tenant,
        patient,
        provider,
        outsider,
        conv,
    }
}

pub fn clinic() -> Clinic {
    clinic_with(|_| {})
}

impl Clinic {
    pub fn req(&self, method: &str, path: &str, token: &str) -> ureq::Request {
        ureq::request(method, &self.app.url(path)).set("Authorization", &format!("Bearer {token}"))
    }

    pub fn upload_path(&self) -> String {
        format!("/parlor/v1/conversations/{}/attachments", self.conv)
    }

    /// The patient deletes message `m` (a message's JSON).
    pub fn delete_message(&self, m: &Value) {
        let url = format!("/parlor/v1/messages/{}", m["id"]);
        let r = got(self.req("DELETE", &url, &self.patient_token).call());
        assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    }

    /// The patient uploads `bytes` as `name`; the file's JSON.
    pub fn upload(&self, name: &str, bytes: &[u8]) -> Value {
        let r = upload_raw(
            self.req("POST", &self.upload_path(), &self.patient_token),
            name,
            "application/octet-stream",
            bytes,
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// The patient sends a message carrying `ids`; the message JSON.
    pub fn send(&self, ids: &[&str]) -> Value {
        let r = got(self
            .req(
                "POST",
                &format!("/parlor/v1/conversations/{}/messages", self.conv),
                &self.patient_token,
            )
            .send_json(json!({"body": "see attached", "attachment_ids": ids})));
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    pub fn download(&self, id: &str, token: &str) -> Got {
        got(self
            .req(
                "GET",
                &format!("/parlor/v1/attachments/{id}/content"),
                token,
            )
            .call())
    }
}

#[test]
fn a_file_goes_up_with_a_message_and_comes_back_to_participants_only() {
    let c = clinic();
    let bytes = noise(3 * 1024 * 1024 + 17, 1);
    let up = c.upload("../../etc/lab\u{7}result.bin", &bytes);
    let id = up["id"].as_str().unwrap().to_string();
    assert_eq!(up["filename"], "labresult.bin");
    assert_eq!(up["size"], bytes.len());
    assert_eq!(up["content_type"], "application/octet-stream");
    assert_eq!(up["message_id"], Value::Null);
    assert_eq!(up["url"], format!("/parlor/v1/attachments/{id}/content"));

    // Unsent: only its uploader (and admins) see it.
    assert_eq!(c.download(&id, &c.provider_token).status, 404);
    assert_eq!(c.download(&id, &c.patient_token).body, bytes);

    let m = c.send(&[&id]);
    assert_eq!(m["files"][0]["id"], id.as_str());
    assert_eq!(m["files"][0]["url"], up["url"]);
    assert_eq!(m["files"][0]["size"], bytes.len());
    // Once sent it is the message's: a second send of it is refused, naming the field.
    let again = got(c
        .req(
            "POST",
            &format!("/parlor/v1/conversations/{}/messages", c.conv),
            &c.patient_token,
        )
        .send_json(json!({"body": "again", "attachment_ids": [id]})));
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["error"]["field"], "attachment_ids");

    let listed = got(c
        .req(
            "GET",
            &format!("/parlor/v1/conversations/{}/messages", c.conv),
            &c.provider_token,
        )
        .call())
    .json();
    assert_eq!(listed["data"][0]["files"][0]["id"], id.as_str());

    for token in [&c.provider_token, &c.patient_token, &c.tenant_admin_token] {
        let d = c.download(&id, token);
        assert_eq!(d.status, 200);
        assert_eq!(d.body, bytes, "byte for byte");
        assert_eq!(d.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            d.header("etag"),
            Some(format!("\"{}\"", up["sha256"].as_str().unwrap()).as_str())
        );
    }
    let meta = got(c
        .req(
            "GET",
            &format!("/parlor/v1/attachments/{id}"),
            &c.provider_token,
        )
        .call());
    assert_eq!(meta.status, 200);
    assert_eq!(meta.json()["message_id"], m["id"]);

    // A non-participant of the tenant and another tenant's admin: as if it did not exist.
    for token in [&c.outsider_token, &c.other_admin_token] {
        let d = c.download(&id, token);
        assert_eq!(d.status, 404, "{}", String::from_utf8_lossy(&d.body));
        assert_eq!(d.json()["error"]["code"], "not_found");
        let meta = got(c
            .req("GET", &format!("/parlor/v1/attachments/{id}"), token)
            .call());
        assert_eq!(meta.status, 404);
    }
    // Every download is an audited read naming the patient; a refused one is recorded too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let downloads = loop {
        let r = got(c
            .req(
                "GET",
                &format!(
                    "/parlor/v1/audit?limit=100&action=attachment.download&patient={}",
                    c.patient
                ),
                &c.tenant_admin_token,
            )
            .call());
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let data = r.json()["data"].as_array().cloned().unwrap_or_default();
        if data.len() >= 4 || std::time::Instant::now() > deadline {
            break data;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        downloads.iter().any(|e| e["actor"]["id"] == c.provider
            && e["route"] == format!("GET /parlor/v1/attachments/{id}/content")),
        "{downloads:#?}"
    );

    // Nor can they upload into a conversation that is not theirs.
    let r = upload_raw(
        c.req("POST", &c.upload_path(), &c.outsider_token),
        "x.bin",
        "application/octet-stream",
        b"\0abc",
    );
    assert_eq!(r.status, 404);
}

#[test]
fn multipart_uploads_and_type_detection_ignores_the_claim() {
    let c = clinic();
    // A PNG claimed as HTML and named .svg is a PNG, shown inline.
    let png = upload_form(
        c.req("POST", &c.upload_path(), &c.patient_token),
        "photo.svg",
        "text/html",
        PNG,
    );
    assert_eq!(png.status, 201, "{}", String::from_utf8_lossy(&png.body));
    let png = png.json();
    assert_eq!(png["content_type"], "image/png");
    assert_eq!(png["filename"], "photo.svg");
    let d = c.download(png["id"].as_str().unwrap(), &c.patient_token);
    assert_eq!(d.body, PNG);
    assert_eq!(d.header("content-type"), Some("image/png"));
    assert!(d
        .header("content-disposition")
        .unwrap()
        .starts_with("inline;"));

    // An SVG and an HTML page claimed as pictures: downloads, never rendered.
    let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    let html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>";
    for (name, bytes) in [("x.svg", &svg[..]), ("page.html", &html[..])] {
        let up = upload_raw(
            c.req("POST", &c.upload_path(), &c.patient_token),
            name,
            "image/png",
            bytes,
        );
        assert_eq!(up.status, 201);
        let up = up.json();
        assert_ne!(up["content_type"], "image/png", "{up}");
        let d = c.download(up["id"].as_str().unwrap(), &c.patient_token);
        assert_eq!(d.status, 200);
        assert_eq!(d.body, bytes);
        let disposition = d.header("content-disposition").unwrap();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(
            disposition.contains(&format!("filename*=UTF-8''{name}")),
            "{disposition}"
        );
        assert_eq!(d.header("content-type"), Some("application/octet-stream"));
        assert_eq!(d.header("x-content-type-options"), Some("nosniff"));
        assert!(d
            .header("content-security-policy")
            .unwrap()
            .contains("sandbox"));
    }

    // A raw body's name may come in the header, percent-encoded UTF-8.
    let r = got(c
        .req("POST", &c.upload_path(), &c.patient_token)
        .set("X-Parlor-Filename", "r%C3%A9sum%C3%A9.pdf")
        .send_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["filename"], "résumé.pdf");
    assert_eq!(r.json()["content_type"], "application/pdf");
    let d = c.download(r.json()["id"].as_str().unwrap(), &c.patient_token);
    assert_eq!(
        d.header("content-disposition"),
        Some("inline; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf")
    );

    // A form without a file part, and an empty file: 400s naming the field.
    let boundary = "b0undary";
    let r = got(c
        .req("POST", &c.upload_path(), &c.patient_token)
        .set(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .send_string(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhi\r\n--{boundary}--\r\n"
        )));
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["error"]["field"], "file");
    let r = upload_raw(
        c.req("POST", &c.upload_path(), &c.patient_token),
        "empty.txt",
        "text/plain",
        b"",
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["field"], "file");
}

#[test]
fn ranges_etags_and_unsatisfiable_ranges() {
    let c = clinic();
    let bytes = noise(2 * 1024 * 1024 + 100, 2);
    let up = c.upload("scan.bin", &bytes);
    let id = up["id"].as_str().unwrap();
    let url = format!("/parlor/v1/attachments/{id}/content");
    let range = |r: &str| got(c.req("GET", &url, &c.patient_token).set("Range", r).call());

    // Across the boundary between the first and second chunk.
    let edge = 1024 * 1024;
    let d = range(&format!("bytes={}-{}", edge - 10, edge + 9));
    assert_eq!(d.status, 206);
    assert_eq!(d.body, &bytes[edge - 10..edge + 10]);
    assert_eq!(
        d.header("content-range"),
        Some(format!("bytes {}-{}/{}", edge - 10, edge + 9, bytes.len()).as_str())
    );
    let d = range("bytes=-5");
    assert_eq!(d.status, 206);
    assert_eq!(d.body, &bytes[bytes.len() - 5..]);
    let d = range(&format!("bytes={}-", bytes.len() - 3));
    assert_eq!(d.body, &bytes[bytes.len() - 3..]);

    let d = range(&format!("bytes={}-", bytes.len()));
    assert_eq!(d.status, 416);
    assert_eq!(
        d.header("content-range"),
        Some(format!("bytes */{}", bytes.len()).as_str())
    );

    let etag = d.header("etag").unwrap().to_string();
    let d = got(c
        .req("GET", &url, &c.patient_token)
        .set("If-None-Match", &etag)
        .call());
    assert_eq!(d.status, 304);
    assert!(d.body.is_empty());
    // A range of another version is answered with the whole file.
    let d = got(c
        .req("GET", &url, &c.patient_token)
        .set("Range", "bytes=0-0")
        .set("If-Range", "\"something-else\"")
        .call());
    assert_eq!(d.status, 200);
    assert_eq!(d.body.len(), bytes.len());
}

#[test]
fn limits_and_the_tenant_quota_answer_413_naming_them() {
    let c = clinic_with(|s| {
        s.attachment_max_bytes = 100_000;
        s.attachment_quota_bytes = 250_000;
    });
    let too_big = noise(100_001, 3);
    for r in [
        upload_raw(
            c.req("POST", &c.upload_path(), &c.patient_token),
            "big.bin",
            "application/octet-stream",
            &too_big,
        ),
        upload_form(
            c.req("POST", &c.upload_path(), &c.patient_token),
            "big.bin",
            "application/octet-stream",
            &too_big,
        ),
    ] {
        assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
        let message = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(message.contains("attachment_max_bytes"), "{message}");
    }
    // A chunked body announces no length: refused once it passes the limit.
    let r = got(c
        .req("POST", &c.upload_path(), &c.patient_token)
        .set("Transfer-Encoding", "chunked")
        .send(std::io::Cursor::new(too_big.clone())));
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));

    c.upload("a.bin", &noise(100_000, 4));
    c.upload("b.bin", &noise(100_000, 5));
    let r = upload_raw(
        c.req("POST", &c.upload_path(), &c.patient_token),
        "c.bin",
        "application/octet-stream",
        &noise(60_000, 6),
    );
    assert_eq!(r.status, 413);
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("attachment_quota_bytes"), "{message}");
    // Nothing of the refused uploads stayed.
    let stored: i64 = c
        .app
        .service
        .store
        .read_blocking(|c| Ok(c.query_row("SELECT count(*) FROM attachments", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(stored, 2);
}

/// Opens the server's file beside it, for a change no API would make.
fn tamper(db: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn.execute_batch(sql).unwrap();
}

#[test]
fn damaged_content_is_a_clear_error_and_parlor_check_names_the_file() {
    let c = clinic();
    let bytes = noise(1024 * 1024 + 5, 7);
    let up = c.upload("x.bin", &bytes);
    let id = up["id"].as_str().unwrap();
    let db = c.app.dir.path().join("parlor.db");
    // One byte of the first chunk changed behind Parlor's back.
    tamper(
        &db,
        "UPDATE attachment_chunks SET data = X'01' || substr(data, 2) WHERE n = 0",
    );
    let d = c.download(id, &c.patient_token);
    assert_eq!(d.status, 503, "{}", String::from_utf8_lossy(&d.body));
    let message = d.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("checksum"), "{message}");

    let out = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("--db")
        .arg(&db)
        .arg("check")
        .env_remove("PARLOR_DB")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("file {id}: chunk 0")), "{text}");
}

#[test]
fn deleting_a_message_deletes_its_files_unless_a_hold_keeps_them() {
    let c = clinic();
    let count = |c: &Clinic| -> (i64, i64) {
        c.app
            .service
            .store
            .read_blocking(|c| {
                Ok((
                    c.query_row("SELECT count(*) FROM attachments", [], |r| r.get(0))?,
                    c.query_row("SELECT count(*) FROM attachment_chunks", [], |r| r.get(0))?,
                ))
            })
            .unwrap()
    };
    let a = c.upload("a.bin", &noise(1500, 8));
    let m = c.send(&[a["id"].as_str().unwrap()]);
    assert_eq!(count(&c), (1, 1));
    c.delete_message(&m);
    assert_eq!(count(&c), (0, 0));
    assert_eq!(
        c.download(a["id"].as_str().unwrap(), &c.tenant_admin_token)
            .status,
        404
    );

    // Under a legal hold the files stay with the (deleted) message.
    let hold = got(c
        .req("POST", "/parlor/v1/legal-holds", &c.tenant_admin_token)
        .send_json(json!({"conversation": c.conv, "reason": "litigation"})));
    assert_eq!(hold.status, 201, "{}", String::from_utf8_lossy(&hold.body));
    let b = c.upload("b.bin", &noise(1500, 9));
    let m = c.send(&[b["id"].as_str().unwrap()]);
    c.delete_message(&m);
    assert_eq!(count(&c), (1, 1));
    // Kept for the hold, but nobody reads a deleted message's file but an admin.
    assert_eq!(
        c.download(b["id"].as_str().unwrap(), &c.provider_token)
            .status,
        404
    );
}

#[test]
fn unsent_uploads_are_removed_after_a_while() {
    let c = clinic();
    let a = c.upload("a.bin", &noise(1500, 10));
    let sent = c.upload("b.bin", &noise(1500, 11));
    c.send(&[sent["id"].as_str().unwrap()]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let removed = rt
        .block_on(c.app.service.remove_unsent(c.app.service.now() + 1))
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(
        c.download(a["id"].as_str().unwrap(), &c.patient_token)
            .status,
        404
    );
    assert_eq!(
        c.download(sent["id"].as_str().unwrap(), &c.provider_token)
            .status,
        200
    );
}

/// `VmHWM` (peak resident set) of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn twenty_megabytes_round_trip_byte_for_byte_with_flat_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("parlor.db");
    let server = crate::shutdown::serve_with(&db, &["--demo"], &[]);
    let pid = server.pid();
    let bytes = noise(20 * 1024 * 1024, 12);
    let auth = "Bearer parlor-demo-admin-token";
    // Warm up: a round trip big enough to fill SQLite's page caches (8 MiB for the writer, 2 MiB
    // per reader), which are bounded whatever the file's size; the peak after it is what the
    // big file adds.
    let small = got(ureq::post(&format!(
        "{}/parlor/v1/conversations/2/attachments?as=4&filename=s.bin",
        server.base
    ))
    .set("Authorization", auth)
    .set("X-Parlor-Tenant", "1")
    .send_bytes(&noise(12 * 1024 * 1024, 13)));
    assert_eq!(small.status, 201);
    let small_id = small.json()["id"].as_str().unwrap().to_string();
    let d = got(ureq::get(&format!(
        "{}/parlor/v1/attachments/{small_id}/content",
        server.base
    ))
    .set("Authorization", auth)
    .set("X-Parlor-Tenant", "1")
    .call());
    assert_eq!(d.status, 200);
    let before = peak_rss_kib(pid);

    let started = std::time::Instant::now();
    let up = got(ureq::post(&format!(
        "{}/parlor/v1/conversations/2/attachments?as=4&filename=big.bin",
        server.base
    ))
    .set("Authorization", auth)
    .set("X-Parlor-Tenant", "1")
    .send_bytes(&bytes));
    let upload_time = started.elapsed();
    let uploaded = peak_rss_kib(pid);
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let id = up.json()["id"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let d = got(ureq::get(&format!(
        "{}/parlor/v1/attachments/{id}/content",
        server.base
    ))
    .set("Authorization", auth)
    .set("X-Parlor-Tenant", "1")
    .call());
    let download_time = started.elapsed();
    assert_eq!(d.status, 200);
    assert!(d.body == bytes, "the download differs from the upload");
    let after = peak_rss_kib(pid);
    eprintln!(
        "20 MiB: upload {upload_time:?}, download {download_time:?}; server peak RSS {before} KiB \
         before, {uploaded} KiB after the upload, {after} KiB after the download"
    );
    // Holding the file once would add at least its 20 MiB. What still grows is bounded whatever
    // the file's size (a 60 MiB file grew the peak by the same 0-11 MiB as this one): the
    // chunks in flight, SQLite's page caches where the warm-up left them short of their caps
    // (8 MiB for the writer, 2 MiB per reader) and the C allocator's arenas behind them; under
    // the whole suite's load in CI, 16.2 MiB once. The bound stays under the file's 20 MiB.
    let grown = after as i64 - before as i64;
    assert!(
        grown < 19 * 1024,
        "peak RSS grew by {grown} KiB (from {before} KiB)"
    );
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
}

#[test]
fn the_server_admin_names_the_uploader_and_the_tenant() {
    let c = clinic();
    let r = got(ureq::post(&c.app.url(&c.upload_path()))
        .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .set("X-Parlor-Tenant", &c.tenant.to_string())
        .query("as", &c.provider.to_string())
        .query("filename", "n.bin")
        .send_bytes(b"\0\x01\x02"));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["uploader_id"], c.provider);
    // Without `as` the server admin is nobody to upload as.
    let r = got(ureq::post(&c.app.url(&c.upload_path()))
        .set("Authorization", &format!("Bearer {ADMIN_TOKEN}"))
        .set("X-Parlor-Tenant", &c.tenant.to_string())
        .send_bytes(b"\0\x01\x02"));
    assert_eq!(r.status, 400);
    let _ = c.outsider;
    let _ = c.patient;
}

mod pigeons {
    //! Pigeons' send takes `attachments` (uploaded files by id) with `context_type`, and its
    //! messages list each with a URL the same credential fetches; errors in Laravel's shape.

    use serde_json::json;

    use super::{got, noise, upload_form, PNG};
    use crate::helpers::spawn_demo;

    const BASE: &str = "/api/v1/pigeons/chat";
    const PK: &str = "pk_demo_pigeons";
    const JOHN: &str = "1|demoPigeonsJohnDoeToken";
    const MARIA: &str = "2|demoPigeonsMariaSilvaToken";
    const OWNER: &str = "demo-pigeons-admin-token";
    const CONV: &str = "550e8400-e29b-41d4-a716-446655440000";
    const MARIA_UUID: &str = "660e8400-e29b-41d4-a716-446655440002";

    fn call(base: &str, method: &str, path: &str, token: &str) -> ureq::Request {
        ureq::request(method, &format!("{base}{BASE}{path}"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("X-PUBLIC-KEY", PK)
    }

    #[test]
    fn a_photo_goes_through_pigeons_and_comes_back_by_its_url() {
        let app = spawn_demo();
        let up = upload_form(
            call(
                &app.base,
                "POST",
                &format!("/attachments?conversation_uuid={CONV}"),
                JOHN,
            ),
            "rash.png",
            "application/octet-stream",
            PNG,
        );
        assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
        let up = up.json();
        assert_eq!(up["message"], "Attachment uploaded successfully");
        let file = up["data"].clone();
        assert_eq!(file["mime_type"], "image/png");
        assert_eq!(file["name"], "rash.png");
        let id = file["id"].as_str().unwrap().to_string();
        assert_eq!(file["url"], format!("{}{BASE}/attachments/{id}", app.base));

        let sent = got(call(&app.base, "POST", "/messages", JOHN).send_json(json!({
            "conversation_uuid": CONV,
            "receiver_uuid": MARIA_UUID,
            "context_text": "the rash today",
            "context_type": "image",
            "attachments": [id, {"note": "kept as given"}],
            "device": {"type": "mobile", "os": "ios"},
        })));
        assert_eq!(sent.status, 201, "{}", String::from_utf8_lossy(&sent.body));
        let m = sent.json()["data"].clone();
        assert_eq!(m["context"]["type"], "image");
        assert_eq!(m["attachments"][0], json!({"note": "kept as given"}));
        assert_eq!(m["attachments"][1], file);

        // The receiver lists it and fetches it with the same credential.
        let thread = got(call(
            &app.base,
            "GET",
            &format!("/conversations/{CONV}/messages"),
            MARIA,
        )
        .call())
        .json();
        let last = thread["data"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["attachments"][1], file);
        let url = file["url"].as_str().unwrap();
        let d = got(ureq::get(url)
            .set("Authorization", &format!("Bearer {MARIA}"))
            .set("X-PUBLIC-KEY", PK)
            .call());
        assert_eq!(d.status, 200);
        assert_eq!(d.body, PNG);
        assert_eq!(d.header("x-content-type-options"), Some("nosniff"));

        // Someone outside the conversation: Laravel's 404.
        let d = got(ureq::get(url)
            .set("Authorization", &format!("Bearer {OWNER}"))
            .set("X-PUBLIC-KEY", PK)
            .call());
        assert_eq!(d.status, 404);
        assert_eq!(d.json(), json!({"message": "Attachment not found"}));
        // No credential: Sanctum's 401.
        let d = got(ureq::get(url).set("X-PUBLIC-KEY", PK).call());
        assert_eq!(d.status, 401);
        assert_eq!(d.json(), json!({"message": "Unauthenticated."}));

        // A file sent twice, or nobody's: the `attachments` field's 422.
        let again = got(call(&app.base, "POST", "/messages", JOHN).send_json(json!({
            "conversation_uuid": CONV,
            "receiver_uuid": MARIA_UUID,
            "context_text": "again",
            "context_type": "file",
            "attachments": [id],
            "device": {"type": "mobile", "os": "ios"},
        })));
        assert_eq!(
            again.status,
            422,
            "{}",
            String::from_utf8_lossy(&again.body)
        );
        assert!(again.json()["errors"]["attachments"][0]
            .as_str()
            .unwrap()
            .starts_with("The attachments "));

        // An upload without its conversation, and one past the limit.
        let r =
            got(call(&app.base, "POST", "/attachments?filename=x.bin", JOHN).send_bytes(b"\0x"));
        assert_eq!(r.status, 422);
        assert_eq!(
            r.json()["errors"]["conversation_uuid"][0],
            "The conversation uuid field is required."
        );
        let r = got(call(
            &app.base,
            "POST",
            &format!("/attachments?conversation_uuid={CONV}"),
            JOHN,
        )
        .send_bytes(&noise(26 * 1024 * 1024, 1)));
        assert_eq!(r.status, 413);
        assert_eq!(r.json(), json!({"message": "The POST data is too large."}));
    }
}

#[test]
fn the_patient_export_carries_the_files_and_their_content() {
    use base64::Engine;
    let c = clinic();
    let bytes = noise(1024 * 1024 + 1001, 14);
    let big = c.upload("letter.bin", &bytes);
    let png = c.upload("rash.png", PNG);
    let m = c.send(&[big["id"].as_str().unwrap(), png["id"].as_str().unwrap()]);
    let doc = got(c
        .req(
            "GET",
            &format!("/parlor/v1/users/{}/export", c.patient),
            &c.tenant_admin_token,
        )
        .call());
    assert_eq!(doc.status, 200, "{}", String::from_utf8_lossy(&doc.body));
    let doc = doc.json();
    assert_eq!(doc["format"], "parlor-patient-export/2");
    let conv = &doc["conversations"][0];
    assert_eq!(conv["messages"][0]["files"][0]["id"], big["id"]);
    let files = conv["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["message"], m["id"]);
    assert_eq!(files[0]["sha256"], big["sha256"]);
    let content = base64::engine::general_purpose::STANDARD
        .decode(files[0]["content_base64"].as_str().unwrap())
        .unwrap();
    assert!(content == bytes, "the export's content differs");
    let content = base64::engine::general_purpose::STANDARD
        .decode(files[1]["content_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(content, PNG);

    let page = got(c
        .req(
            "GET",
            &format!("/parlor/v1/users/{}/export?format=html", c.patient),
            &c.tenant_admin_token,
        )
        .call());
    let page = String::from_utf8(page.body).unwrap();
    let png64 = base64::engine::general_purpose::STANDARD.encode(PNG);
    assert!(
        page.contains(&format!("src=\"data:image/png;base64,{png64}\"")),
        "{}",
        &page[..2000.min(page.len())]
    );
    assert!(
        page.contains("<a download=\"letter.bin\" href=\"data:application/octet-stream;base64,")
    );
    assert!(page.contains("img-src data:"));
}

#[test]
fn retention_removes_a_purged_messages_files_with_it() {
    const DAY: i64 = 86_400_000;
    const T0: i64 = 1_735_689_600_000;
    let c = clinic();
    c.app.service.clock.freeze(T0);
    let old = c.upload("old.bin", &noise(5000, 15));
    c.send(&[old["id"].as_str().unwrap()]);
    c.app.service.clock.freeze(T0 + 2 * DAY);
    let new = c.upload("new.bin", &noise(5000, 16));
    c.send(&[new["id"].as_str().unwrap()]);
    let r = got(c
        .req("PUT", "/parlor/v1/retention", &c.tenant_admin_token)
        .send_json(json!({"message_days": 1})));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let service = c.app.service.clone();
    let sweep = actix_web::rt::System::new()
        .block_on(async move {
            service
                .run_retention(parlor::service::retention::SweepOptions::default())
                .await
        })
        .unwrap();
    assert_eq!(
        sweep
            .tenants
            .iter()
            .map(|t| t.steps[0].removed)
            .sum::<u64>(),
        1
    );
    let (files, chunks): (i64, i64) = c
        .app
        .service
        .store
        .read_blocking(|c| {
            Ok((
                c.query_row("SELECT count(*) FROM attachments", [], |r| r.get(0))?,
                c.query_row("SELECT count(*) FROM attachment_chunks", [], |r| r.get(0))?,
            ))
        })
        .unwrap();
    assert_eq!((files, chunks), (1, 1));
    assert_eq!(
        c.download(old["id"].as_str().unwrap(), &c.tenant_admin_token)
            .status,
        404
    );
    assert_eq!(
        c.download(new["id"].as_str().unwrap(), &c.provider_token)
            .body,
        noise(5000, 16)
    );
}

#[test]
fn an_encrypted_database_keeps_its_files_encrypted_and_working() {
    let (dir, keys) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let db = dir.path().join("parlor.db");
    let key = keys.path().join("parlor.key");
    let init = Command::new(env!("CARGO_BIN_EXE_parlor"))
        .arg("--db")
        .arg(&db)
        .arg("init")
        .env_remove("PARLOR_DB")
        .env("PARLOR_ENCRYPTION_KEY_FILE", &key)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let server = crate::shutdown::serve_with(
        &db,
        &["--demo"],
        &[("PARLOR_ENCRYPTION_KEY_FILE", key.to_str().unwrap())],
    );
    let marker = b"\0PARLOR-ATTACHMENT-PLAINTEXT-MARKER-0123456789".repeat(2000);
    let up = got(ureq::post(&format!(
        "{}/parlor/v1/conversations/2/attachments?as=4&filename=m.bin",
        server.base
    ))
    .set("Authorization", "Bearer parlor-demo-admin-token")
    .set("X-Parlor-Tenant", "1")
    .send_bytes(&marker));
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let id = up.json()["id"].as_str().unwrap().to_string();
    let d = got(ureq::get(&format!(
        "{}/parlor/v1/attachments/{id}/content",
        server.base
    ))
    .set("Authorization", "Bearer parlor-demo-admin-token")
    .set("X-Parlor-Tenant", "1")
    .call());
    assert!(d.body == marker);
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
    // Nothing of the file is readable in the database file or beside it.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let raw = std::fs::read(&path).unwrap();
            assert!(
                !raw.windows(20).any(|w| w == &marker[1..21]),
                "{} holds the file in clear",
                path.display()
            );
        }
    }
}
