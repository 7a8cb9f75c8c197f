//! `config.example.toml` is the documentation of every setting: it must parse, equal the
//! defaults, and name every key (commented-out keys count).

use parlor::config::{Settings, ENV_VARS, FACE_NAMES};

const EXAMPLE: &str = include_str!("../../config.example.toml");

#[test]
fn the_example_parses_to_the_defaults() {
    let parsed = Settings::from_sources(EXAMPLE, &[]).expect("config.example.toml parses");
    assert_eq!(parsed, Settings::default());
}

#[test]
fn the_example_names_every_setting_and_its_environment_variable() {
    let defaults = toml::Value::try_from(Settings::default()).unwrap();
    let table = defaults.as_table().unwrap();
    for key in table.keys().filter(|k| *k != "faces") {
        let named = EXAMPLE.lines().any(|l| {
            l.trim_start_matches(['#', ' '])
                .starts_with(&format!("{key} ="))
        });
        assert!(named, "config.example.toml does not document `{key}`");
    }
    // Optional settings (jwt_secret, admin_token) do not serialize when unset; check them too.
    for (env, key) in ENV_VARS {
        assert!(
            EXAMPLE.contains(env),
            "config.example.toml does not mention {env}"
        );
        assert!(
            EXAMPLE.contains(&format!("{key} =")),
            "config.example.toml does not document `{key}`"
        );
    }
    for face in FACE_NAMES {
        assert!(
            EXAMPLE.contains(&format!("[faces.{face}]")),
            "no [faces.{face}] section"
        );
    }
    assert!(EXAMPLE.contains("base_path"), "base_path is not documented");
    assert!(
        EXAMPLE.contains("cors_origins") && EXAMPLE.contains("_CORS_ORIGINS"),
        "cors_origins is not documented"
    );
}

#[test]
fn a_config_file_with_a_typo_is_refused_with_the_key_named() {
    let err =
        Settings::from_sources("bind = \"127.0.0.1:1\"\nsynchronus = \"off\"\n", &[]).unwrap_err();
    assert!(err.to_string().contains("synchronus"), "{err}");
}
