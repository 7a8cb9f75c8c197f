//! The README's "Using Parlor in your test suite" shows the example suites' files; CI runs
//! those files (`.ci/run`). This keeps the two the same, so the README's code is the tested code.

use std::path::Path;

/// The README's code block that starts with the comment line `marker`, without that line.
fn block_after(readme: &str, marker: &str) -> String {
    let start = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README has no block starting {marker:?}"));
    let body = &readme[start + marker.len()..];
    let body = body.strip_prefix('\n').unwrap_or(body);
    let end = body.find("```").expect("the block ends");
    body[..end].to_string()
}

#[test]
fn the_readmes_test_suite_examples_are_the_files_ci_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (marker, file) in [
        ("# conftest.py", "examples/test-suites/python/conftest.py"),
        (
            "# test_stand_in.py",
            "examples/test-suites/python/test_stand_in.py",
        ),
        (
            "// parlor-server.js (vitest.config.js: test.globalSetup)",
            "examples/test-suites/node/parlor-server.js",
        ),
        (
            "// parlor.js: `test` with a sandbox, as the test files import it",
            "examples/test-suites/node/parlor.js",
        ),
    ] {
        let shown = block_after(&readme, marker);
        let real = std::fs::read_to_string(root.join(file)).unwrap();
        assert_eq!(shown, real, "README's {marker:?} differs from {file}");
    }
}
