//! The statements every list request runs (the token lookup, the page, the members of the
//! page) must be answered from an index: a SCAN of a big table, a search of a whole tenant or
//! a temporary B-tree sort would make a list's cost grow with the data instead of the page.

use parlor::store::{hot_reads, Store, StoreOptions};

/// What SQLite would do for `sql`, one line per step of `EXPLAIN QUERY PLAN`.
fn plan(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("cannot explain {sql}: {e}"));
    // Unbound parameters are NULL: enough for the planner, which never sees their values.
    let mut rows = stmt.raw_query();
    let mut steps = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        steps.push(r.get::<_, String>(3).unwrap());
    }
    steps
}

/// A step of `sql` that reads a table or index whole, reads every row of a tenant (an index
/// searched on `tenant_id` alone, unless it is the order of a page with a LIMIT: a clinic's
/// whole directory for a few of its rows), or sorts rows outside any index.
fn is_costly(sql: &str, step: &str) -> bool {
    // A scan of a table-valued function or a list of constants is not a table scan, nor is a
    // full-text query (FTS5's index string holds an M for its MATCH): it reads the index.
    (step.starts_with("SCAN ")
        && !step.starts_with("SCAN CONSTANT ROW")
        && !is_full_text_match(step))
        || step.contains("USE TEMP B-TREE")
        || (step.starts_with("SEARCH ")
            && step.ends_with("(tenant_id=?)")
            && !sql.contains("LIMIT"))
}

/// `SCAN t VIRTUAL TABLE INDEX n:M…`: FTS5 answering a MATCH from its index.
fn is_full_text_match(step: &str) -> bool {
    step.split_once(" VIRTUAL TABLE INDEX ")
        .and_then(|(_, index)| index.split_once(':'))
        .is_some_and(|(_, idx_str)| idx_str.starts_with('M'))
}

#[test]
fn hot_list_reads_use_indexes_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plans.db");
    let store = Store::open(&path, &StoreOptions::default()).unwrap();
    store.close_blocking().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let reads = hot_reads();
    assert!(reads.len() >= 4, "the hot reads are listed: {reads:?}");
    let mut costly = Vec::new();
    for (name, sql) in &reads {
        let steps = plan(&conn, sql);
        assert!(!steps.is_empty(), "{name} has a plan");
        for step in steps.iter().filter(|s| is_costly(sql, s)) {
            costly.push(format!("{name}: {step}"));
        }
    }
    assert!(
        costly.is_empty(),
        "hot reads not served by an index: {costly:#?}"
    );
}

#[test]
fn the_check_sees_a_scan_and_a_sort() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plans.db");
    let store = Store::open(&path, &StoreOptions::default()).unwrap();
    store.close_blocking().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    for (sql, costly) in [
        (
            "SELECT id FROM users WHERE display_name = ?1 ORDER BY created_at",
            2,
        ),
        // Users by id, where the planner prefers the tenant's index to the ids: every user of
        // the tenant is read to find two.
        (
            "SELECT id FROM users WHERE id IN (?2, ?3) AND tenant_id = ?1",
            1,
        ),
        // The search index read whole (no MATCH), and messages found by text then sorted
        // outside the index by something other than its rank.
        ("SELECT rowid FROM message_search ORDER BY rowid", 1),
        (
            "SELECT m.id FROM message_search JOIN messages m ON m.id = message_search.rowid
               WHERE message_search MATCH ?1 ORDER BY m.created_at LIMIT 5",
            1,
        ),
    ] {
        let steps = plan(&conn, sql);
        assert_eq!(
            steps.iter().filter(|s| is_costly(sql, s)).count(),
            costly,
            "{steps:?}"
        );
    }
}

/// A user's search starts from the user's own memberships, whatever the planner would guess:
/// from the tenant's side it read every conversation of the clinic to find a patient's ten.
#[test]
fn a_users_search_reads_their_memberships_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plans.db");
    let store = Store::open(&path, &StoreOptions::default()).unwrap();
    store.close_blocking().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let reads = hot_reads();
    let (_, sql) = reads
        .iter()
        .find(|(name, _)| *name == "message_search::conversations_of")
        .expect("listed");
    let steps = plan(&conn, sql);
    assert!(
        steps[0].contains("participants_user_activity (user_id=?)"),
        "{steps:?}"
    );
}
