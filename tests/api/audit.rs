//! The audit trail: what each surface leaves in it, the chain that shows tampering, and the
//! ways to read it.

use serde_json::Value;

use crate::helpers::*;

/// The tenant's entries, newest first, waiting (up to ten seconds) until `wanted` finds one:
/// reads are recorded within a second, not before the answer.
fn entries_until(
    app: &TestApp,
    tenant: i64,
    query: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = app
            .get(&format!("/parlor/v1/audit?limit=100{query}"))
            .admin()
            .tenant(tenant)
            .send();
        assert_eq!(r.status, 200, "{:?}", r.body);
        let data = r.body["data"].as_array().cloned().unwrap_or_default();
        if data.iter().any(&wanted) || std::time::Instant::now() > deadline {
            return data;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn smoke() {
    let app = spawn_demo();
    let r = app
        .get("/v0.1/patients/conversations/con123/messages/")
        .header("Authorization", "Token tati-token-demo")
        .send();
    assert_eq!(r.status, 200);
    let found = entries_until(&app, 4, "", |e| e["surface"] == "tati");
    println!("{}", serde_json::to_string_pretty(&found).unwrap());
    panic!("look");
}
