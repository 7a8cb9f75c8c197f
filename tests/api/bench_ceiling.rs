//! The pinned benchmark divides the server's rate by that of the storage ceiling
//! (`benches/ceiling.rs`), which opens the seeded file itself. The ratio means something only
//! while the ceiling reads and writes the way the server does: the same pragmas on its read and
//! write connections, the same statement cache, the same checkpoint threshold. A change to one
//! side must be made to the other.

use std::collections::BTreeSet;

const STORE: &str = include_str!("../../src/store/mod.rs");
const WRITER: &str = include_str!("../../src/store/writer.rs");
const CEILING: &str = include_str!("../../benches/ceiling.rs");

/// Every `PRAGMA name = value` in `text`, as "name = value".
fn pragmas(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("PRAGMA ") {
        rest = &rest[at + "PRAGMA ".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = rest[name.len()..].trim_start();
        if let Some(value) = after.strip_prefix('=') {
            let value: String = value
                .trim_start()
                .chars()
                .take_while(|c| !matches!(c, ';' | '"' | '\n' | ')'))
                .collect();
            found.insert(format!("{name} = {}", value.trim()));
        }
    }
    found
}

/// `src` from the first occurrence of `from` to the first occurrence of `to` after it.
fn between<'a>(src: &'a str, from: &str, to: &str) -> &'a str {
    let start = src
        .find(from)
        .unwrap_or_else(|| panic!("`{from}` not found"));
    let len = src[start..]
        .find(to)
        .unwrap_or_else(|| panic!("`{to}` not found after `{from}`"));
    &src[start..start + len]
}

/// The value of `const NAME: T = VALUE;`.
fn constant<'a>(src: &'a str, name: &str) -> &'a str {
    let declared = between(src, &format!("const {name}:"), ";");
    declared
        .split_once('=')
        .unwrap_or_else(|| panic!("{name} has no value"))
        .1
        .trim()
}

/// The text of `const NAME: &str = "...";` (no escaped quotes inside).
fn text_constant<'a>(src: &'a str, name: &str) -> &'a str {
    let declared = &src[src
        .find(&format!("const {name}: &str"))
        .unwrap_or_else(|| panic!("{name} not found"))..];
    let open = declared
        .find('"')
        .unwrap_or_else(|| panic!("{name} is not a literal"))
        + 1;
    let len = declared[open..]
        .find('"')
        .unwrap_or_else(|| panic!("{name} is unterminated"));
    &declared[open..open + len]
}

/// A pragma of the server's with the store's named constants (`{READ_CACHE_KIB}`) filled in.
fn with_constants(pragma: &str) -> String {
    ["READ_CACHE_KIB", "WRITE_CACHE_KIB"]
        .iter()
        .fold(pragma.to_string(), |p, name| {
            p.replace(&format!("{{{name}}}"), constant(STORE, name))
        })
}

#[test]
fn the_ceiling_reads_with_the_read_pools_pragmas() {
    let server: BTreeSet<String> = pragmas(between(STORE, ".with_init(", "let pool"))
        .into_iter()
        .map(|p| with_constants(&p))
        .collect();
    let ceiling = pragmas(text_constant(CEILING, "READER_PRAGMAS"));
    assert!(
        !server.is_empty(),
        "no pragmas found in the read pool's set-up"
    );
    assert_eq!(ceiling, server, "benches/ceiling.rs READER_PRAGMAS");
}

#[test]
fn the_ceiling_writes_with_the_writers_pragmas() {
    // The benchmark runs the server with synchronous=full, the ceiling's fixed setting.
    let server: BTreeSet<String> = pragmas(between(STORE, "fn configure_writer", "\n}\n"))
        .into_iter()
        .map(|p| with_constants(&p).replace("synchronous = {}", "synchronous = FULL"))
        .collect();
    let mut ceiling = pragmas(text_constant(CEILING, "WRITER_PRAGMAS"));
    ceiling.extend(pragmas(between(CEILING, "fn writer(", "\n}\n")));
    assert!(
        server.len() > 3,
        "too few pragmas found in configure_writer: {server:?}"
    );
    assert_eq!(
        ceiling, server,
        "benches/ceiling.rs WRITER_PRAGMAS and fn writer"
    );
}

#[test]
fn the_ceiling_caches_statements_and_checkpoints_as_the_server_does() {
    assert_eq!(
        constant(CEILING, "STATEMENT_CACHE"),
        constant(STORE, "STATEMENT_CACHE")
    );
    assert_eq!(
        constant(CEILING, "CHECKPOINT_FRAMES"),
        constant(WRITER, "CHECKPOINT_FRAMES")
    );
}
