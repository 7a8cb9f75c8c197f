//! The `parlor` command line: a thin layer over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use parlor::config::Settings;
use parlor::domain::time::parse_utc_offset;
use parlor::domain::{IdRef, Profile, Role};
use parlor::fixture::{self, Summary};
use parlor::service::directory::{NewTenant, NewUser};
use parlor::service::retention::SweepOptions;
use parlor::service::Service;
use parlor::store::integrity::{self, Depth, Outcome};
use parlor::store::origin;
use parlor::{encryption, server, Error};

/// mimalloc instead of the system allocator: request handling allocates and frees many small
/// strings across threads, where glibc's malloc spent a fifth of a list request's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc hands freed memory back to the system a second after it is freed, but only when
/// the allocator is next asked for a fresh page: after a burst (a crowd of clients, the argon2
/// hashes of a fixture) the server goes quiet and kept tens of megabytes it no longer used.
/// Asking for (and at once freeing, untouched) one large block every two seconds is such a
/// request; the block itself never becomes resident. (Setting mimalloc's purge options
/// directly would need `unsafe`, which this crate forbids.)
fn return_freed_memory() {
    let _ = std::thread::Builder::new()
        .name("parlor-trim".into())
        .spawn(|| loop {
            std::thread::sleep(std::time::Duration::from_secs(2));
            drop(std::hint::black_box(Vec::<u8>::with_capacity(64 << 20)));
        });
}

/// Parlor: a complete messaging server in one program and one database file.
///
/// Start with `parlor init` (creates the database and prints the administrator token), then
/// `parlor serve`. To try it with sample data instead: `parlor serve --demo`.
#[derive(Parser)]
#[command(name = "parlor", version = parlor::telemetry::VERSION, about, long_about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Settings file (TOML). See config.example.toml for every setting.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The database file (default ./parlor.db; also PARLOR_DB).
    #[arg(long, global = true, value_name = "FILE")]
    db: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server until stopped with Ctrl-C.
    Serve {
        /// Address and port to listen on, e.g. 127.0.0.1:8080 (also PARLOR_BIND).
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
        /// Load the built-in demo data first (skipped if it is already there).
        #[arg(long)]
        demo: bool,
        /// Load this fixture file first (see FIXTURES.md).
        #[arg(long, value_name = "FILE")]
        fixture: Option<PathBuf>,
    },
    /// Create the database if needed and print a new administrator token. Keep it safe: it is
    /// shown only once. A new database is encrypted, with a new key file (see README,
    /// "Encryption at rest").
    Init {
        /// Create a plain, unencrypted database instead (as before encryption at rest).
        #[arg(long)]
        plain: bool,
    },
    /// Encrypt an existing plain database, with the key in encryption_key_file (created if
    /// missing) or a new key at the default place. Stop the server first.
    Encrypt,
    /// Re-encrypt the database with a new key, which replaces the old one in its key file (the
    /// old key is kept beside it, for older backups). Stop the server first.
    Rekey,
    /// Load a fixture file into the database: all of it, or nothing if any part is wrong.
    Load {
        /// The fixture (JSON).
        file: PathBuf,
    },
    /// Manage tenants (a tenant is one clinic, workspace or organization).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print a one-time link that lets USER set a password: an invite (a user without a
    /// password) or a password reset (a user with one, or --reset). Earlier unused links of
    /// the user stop working.
    Invite {
        /// The tenant (id or uuid).
        #[arg(long)]
        tenant: String,
        /// The user (id, uuid, oid or username).
        user: String,
        /// A password reset: signs the user out everywhere when used.
        #[arg(long)]
        reset: bool,
        /// Hours the link works (1-720; default 72 for an invite, 24 for a reset).
        #[arg(long)]
        hours: Option<i64>,
        /// Where the link starts, e.g. https://messages.clinic.example (default: the
        /// public_url setting).
        #[arg(long, value_name = "BASE")]
        url: Option<String>,
    },
    /// Copy the whole database to FILE. Safe while the server is running.
    Backup {
        /// Where to write the copy (must not exist yet).
        file: PathBuf,
    },
    /// Put a backup in place of the database. The copy is checked first (as `parlor check`
    /// does); the database it replaces, with its -wal and -shm, is kept aside under a dated name.
    /// Stop the server first: a database in use is refused.
    Restore {
        /// The copy to restore (from `parlor backup` or the scheduled backups).
        file: PathBuf,
    },
    /// The audit trail: verify its hash chain, or export it.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Verify the database file (its structure and the links between its records), then
    /// recount every unread badge from the messages and compare the search index with them.
    /// Exits with status 1 on any problem.
    Check {
        /// Also correct the unread counts that differ and rebuild a search index that does
        /// not match (a damaged file is never changed).
        #[arg(long)]
        fix: bool,
        /// Verify the structure with SQLite's quick check (faster on very large files; does
        /// not match every index entry to its row, nor every word of the search index).
        #[arg(long)]
        quick: bool,
        /// Build the search index again from the messages, whatever the check finds.
        #[arg(long)]
        rebuild_search: bool,
    },
    /// Ask a running server whether it is ready (GET /readyz): exit status 0 when it is, 1
    /// when it is not or does not answer within 5 seconds. For a container's HEALTHCHECK or a
    /// monitoring script; plain HTTP only.
    Health {
        /// The server's host:port (default: the bind setting, on loopback when it listens on
        /// every address).
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<String>,
    },
    /// Retention: remove messages older than each tenant's retention (legal holds win).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Export records: a patient's messages, for their request to see them (right of access).
    #[command(subcommand)]
    Export(ExportCommand),
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Every conversation and message of one user, with participants, times and read
    /// receipts, as JSON or as a printable HTML page that needs nothing from the network.
    Patient {
        /// The tenant (clinic): id or uuid.
        #[arg(long)]
        tenant: String,
        /// The patient: id, uuid, oid or username.
        #[arg(long)]
        user: String,
        /// json or html.
        #[arg(long, default_value = "json")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain from its first entry to its last; exits with status 1 at the first
    /// entry changed, inserted or removed. Prints the head (SEQ:HASH) to keep elsewhere.
    Verify {
        /// A head printed by an earlier run: also check it is still there, unchanged.
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<String>,
    },
    /// Write entries, oldest first, to standard output (or --out).
    Export {
        /// From this date or RFC 3339 time (inclusive).
        #[arg(long)]
        since: Option<String>,
        /// Up to this date or time (exclusive).
        #[arg(long)]
        until: Option<String>,
        /// Only entries concerning this patient (user id).
        #[arg(long)]
        patient: Option<i64>,
        /// Only this tenant's entries (id).
        #[arg(long)]
        tenant: Option<i64>,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: parlor::audit::cli::Format,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Run the sweep now and print what it removed, per tenant. Safe while the server runs.
    Run {
        /// Count exactly what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only this tenant (id or uuid).
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant, with its owner (an admin user) and its assistant user.
    Create {
        /// The tenant's name, e.g. "Riverside Family Clinic".
        #[arg(long)]
        name: String,
        /// The tenant's offset from UTC, e.g. -05:00 (default +00:00).
        #[arg(long, allow_hyphen_values = true)]
        utc_offset: Option<String>,
    },
    /// List every tenant with its id.
    List,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user in a tenant.
    Create {
        /// Tenant id or uuid (see the admin page, or GET /parlor/v1/tenants).
        #[arg(long)]
        tenant: String,
        /// patient, provider, staff, customer, agent, assistant, system, participant or admin.
        #[arg(long, default_value = "participant")]
        role: String,
        /// The name shown to others.
        #[arg(long)]
        name: String,
        /// Sign-in name (needed with --password).
        #[arg(long)]
        username: Option<String>,
        /// Sign-in password (at least 8 characters).
        #[arg(long)]
        password: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an access token for a user and print it (shown only once).
    Create {
        /// Tenant id or uuid.
        #[arg(long)]
        tenant: String,
        /// User id, uuid or oid.
        #[arg(long)]
        user: String,
        /// Comma-separated abilities, e.g. "backoffice" or "*" for everything.
        #[arg(long, default_value = "*")]
        abilities: String,
        /// A note to recognise the token by.
        #[arg(long)]
        label: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The settings are read again by the command, which reports their errors (and, the log
    // being in place by then, their warnings).
    let format = settings(&cli.global)
        .map(|s| s.log_format)
        .unwrap_or_default();
    parlor::telemetry::logging::init(format);
    match actix_web::rt::System::new().block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("parlor: {}", describe(&e));
            ExitCode::from(2)
        }
    }
}

fn describe(e: &Error) -> String {
    match e {
        Error::Internal(cause) => cause.clone(),
        other => other.to_string(),
    }
}

fn settings(global: &Global) -> Result<Settings, Error> {
    let mut s = Settings::load(global.config.as_deref())?;
    if let Some(db) = &global.db {
        s.db = db.clone();
    }
    Ok(s)
}

fn open(global: &Global) -> Result<Service, Error> {
    let s = settings(global)?;
    Ok(Service::new(
        server::open_store(&s)?,
        parlor::domain::Clock::system(),
    ))
}

fn id_ref(field: &str, text: &str) -> Result<IdRef, Error> {
    IdRef::parse(text).ok_or_else(|| Error::invalid(field, format!("\"{text}\" is not an id")))
}

/// What a command that changes the database is called in the audit trail; its writes are
/// recorded under it (surface `cli`).
fn cli_action(command: &Command) -> Option<&'static str> {
    match command {
        Command::Init { .. } => Some("init"),
        Command::Load { .. } => Some("load"),
        Command::Tenant(TenantCommand::Create { .. }) => Some("tenant.create"),
        Command::User(UserCommand::Create { .. }) => Some("user.create"),
        Command::Token(TokenCommand::Create { .. }) => Some("token.issue"),
        Command::Invite { .. } => Some("invite.issue"),
        Command::Check { fix: true, .. } => Some("check.fix"),
        Command::Check {
            rebuild_search: true,
            ..
        } => Some("check.rebuild_search"),
        _ => None,
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Error> {
    let audited = settings(&cli.global).map(|s| s.audit).unwrap_or(true);
    match cli_action(&cli.command).filter(|_| audited) {
        Some(action) => {
            let now = parlor::domain::Clock::system().now_ms();
            let draft = std::sync::Arc::new(std::sync::Mutex::new(parlor::audit::Draft {
                entry: parlor::audit::cli::entry(now, action),
                written: false,
            }));
            parlor::audit::scope(draft, command(cli)).await
        }
        None => command(cli).await,
    }
}

async fn command(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Serve {
            bind,
            demo,
            fixture,
        } => {
            let mut s = settings(&cli.global)?;
            if let Some(b) = bind {
                s.bind = b;
            }
            s.demo |= demo;
            let db = s.db.clone();
            return_freed_memory();
            let running = server::build_app(s, fixture.as_deref()).await?;
            if let Some(summary) = &running.loaded {
                print_summary(summary);
            }
            if !running.credentials.is_empty() {
                print_credentials(&running.credentials);
            }
            println!(
                "Parlor is listening on {}://{} (database {})",
                running.scheme,
                running.addr,
                db.display()
            );
            println!(
                "Admin page: {0}://{1}/admin   Native API: {0}://{1}/parlor/v1",
                running.scheme, running.addr
            );
            if let Some(metrics) = running.metrics_addr {
                println!("Metrics: http://{metrics}/metrics");
            }
            println!("Press Ctrl-C to stop.");
            running.server.await.map_err(Error::internal)?;
            // Stopped (Ctrl-C, SIGTERM): let the writer finish and fold the WAL back into the
            // file, so that what stays behind is one self-contained database file.
            if let Err(e) = running.service.store.close().await {
                tracing::warn!("closing the database: {}", describe(&e));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Init { plain } => {
            let mut s = settings(&cli.global)?;
            let configured = s.encryption_key_file.is_some();
            let made = if plain {
                None
            } else {
                encryption::key_for_new_database(&s)?
            };
            if let Some(made) = &made {
                s.encryption_key_file = Some(made.key.source().to_owned());
            }
            let service = Service::new(server::open_store(&s)?, parlor::domain::Clock::system());
            let token = service.create_server_admin_token().await?;
            println!("Database ready: {}", service.store.path().display());
            if let Some(made) = &made {
                print_new_key(made, configured);
            }
            println!(
                "Administrator token (shown only once; keep it somewhere safe):\n\n    {token}\n"
            );
            println!("Use it as 'Authorization: Bearer <token>' with the native API, or to sign in to the admin page.");
            service.store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Load { file } => {
            let service = open(&cli.global)?;
            let doc = fixture::Document::from_file(&file)?;
            let empty = !service.store.read(origin::holds_tenants).await?;
            let progress = parlor::progress::Progress::on_stderr("load");
            let summary = fixture::load_showing(&service, doc, progress.clone()).await;
            progress.finish();
            let summary = summary?;
            if empty {
                service.store.write(origin::mark_scratch).await?;
            }
            service.store.close().await?;
            print_summary(&summary);
            print_credentials(&summary.credentials);
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant(TenantCommand::Create { name, utc_offset }) => {
            let service = open(&cli.global)?;
            let utc_offset_minutes = match utc_offset {
                Some(text) => parse_utc_offset(&text).ok_or_else(|| {
                    Error::invalid("utc-offset", "must look like +HH:MM or -HH:MM")
                })?,
                None => 0,
            };
            let tenant = service
                .create_tenant(NewTenant {
                    name,
                    utc_offset_minutes,
                    ..NewTenant::default()
                })
                .await?;
            println!(
                "Created tenant {} (id {}, uuid {})",
                tenant.name, tenant.id.0, tenant.uuid
            );
            println!("Next: parlor user create --tenant {} --role admin --name \"Office Manager\" --username manager --password '...'", tenant.id.0);
            service.store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant(TenantCommand::List) => {
            let service = open(&cli.global)?;
            for t in service.tenants().await? {
                println!("{:>6}  {}  {}", t.id.0, t.uuid, t.name);
            }
            service.store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Create {
            tenant,
            role,
            name,
            username,
            password,
            email,
        }) => {
            let service = open(&cli.global)?;
            let tenant = service.find_tenant(id_ref("tenant", &tenant)?).await?;
            let role = Role::parse(&role).ok_or_else(|| {
                Error::invalid("role", format!("must be one of {}", Role::choices()))
            })?;
            let user = service
                .create_user(
                    tenant.id,
                    NewUser {
                        role: Some(role),
                        display_name: Some(name),
                        username,
                        password,
                        profile: Profile {
                            email,
                            ..Profile::default()
                        },
                        ..NewUser::default()
                    },
                )
                .await?;
            println!(
                "Created user {} (id {}, uuid {}) in {}",
                user.display_name, user.id.0, user.uuid, tenant.name
            );
            service.store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::Create {
            tenant,
            user,
            abilities,
            label,
        }) => {
            let service = open(&cli.global)?;
            let tenant = service.find_tenant(id_ref("tenant", &tenant)?).await?;
            let abilities: Vec<String> = abilities
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect();
            let (record, token) = service
                .issue_token(
                    Some(tenant.id),
                    Some(id_ref("user", &user)?),
                    abilities,
                    label,
                    None,
                )
                .await?;
            println!(
                "Token {} for user {} (abilities: {}), shown only once:\n\n    {token}\n",
                record.id,
                user,
                record.abilities.join(", ")
            );
            service.store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Invite {
            tenant,
            user,
            reset,
            hours,
            url,
        } => {
            let base = match url.or(settings(&cli.global)?.public_url) {
                Some(base) => base,
                None => {
                    return Err(Error::invalid(
                        "url",
                        "give --url BASE (where staff and patients reach Parlor) or set \
                         public_url",
                    ))
                }
            };
            let service = open(&cli.global)?;
            let tenant = service.find_tenant(id_ref("tenant", &tenant)?).await?;
            let purpose = reset.then_some(parlor::service::invites::Purpose::Reset);
            let user = service.user_by_ref_or_username(tenant.id, user).await?;
            let issued = service
                .issue_invite(tenant.id, IdRef::Id(user.id.0), purpose, hours)
                .await?;
            println!(
                "{} link for {} ({}), works once, until {}:\n\n    {}\n",
                if issued.invite.purpose == "reset" {
                    "Password reset"
                } else {
                    "Invite"
                },
                issued.user.display_name,
                issued.user.username.as_deref().unwrap_or(""),
                parlor::domain::time::rfc3339_ms(issued.invite.expires_at),
                parlor::service::invites::link(&base, &issued.secret)
            );
            service.store.close().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { file } => {
            let s = settings(&cli.global)?;
            // One SQLite statement: the bar or the lines show it is alive and how long it took.
            let progress = parlor::progress::Progress::on_stderr("backup");
            progress.phase("copying", None, "");
            let copied = server::backup(&s, &file);
            progress.finish();
            copied?;
            // A copy of everything: recorded like any other access.
            let mut entry =
                parlor::audit::cli::entry(parlor::domain::Clock::system().now_ms(), "backup");
            entry.outcome = "ok".into();
            entry.detail =
                Some(serde_json::json!({ "file": file.display().to_string() }).to_string());
            record_cli(&s, entry).await?;
            println!("Backed up {} to {}", s.db.display(), file.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore { file } => {
            let s = settings(&cli.global)?;
            let now = parlor::domain::Clock::system().now_ms();
            let progress = parlor::progress::Progress::on_stderr("restore");
            progress.phase("checking the copy and putting it in place", None, "");
            let restored = parlor::backups::restore::restore(&s, &file, now);
            progress.finish();
            let restored = restored?;
            println!(
                "Checked {}: sound (file structure, links between records, unread counts)",
                file.display()
            );
            for aside in &restored.aside {
                println!("Kept the replaced file as {}", aside.display());
            }
            println!(
                "Restored {} from {}; start the server again",
                restored.db.display(),
                file.display()
            );
            // Recorded in the restored database's own trail, from where it continues.
            let mut entry = parlor::audit::cli::entry(now, "restore");
            entry.outcome = "ok".into();
            entry.detail =
                Some(serde_json::json!({ "file": file.display().to_string() }).to_string());
            record_cli(&s, entry).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check {
            fix,
            quick,
            rebuild_search,
        } => check(&cli.global, fix, quick, rebuild_search).await,
        Command::Health { addr } => {
            let addr = match addr {
                Some(addr) => addr,
                None => parlor::probe::local_address(&settings(&cli.global)?.bind),
            };
            // Any failure is "unhealthy" (1): a container runtime reserves exit status 2.
            match parlor::probe::readyz(&addr) {
                Ok(answer) if answer.ready() => {
                    println!("ready: {}", answer.body);
                    Ok(ExitCode::SUCCESS)
                }
                Ok(answer) => {
                    println!("not ready ({}): {}", answer.status, answer.body);
                    Ok(ExitCode::from(1))
                }
                Err(e) => {
                    println!("not ready: {}", describe(&e));
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Audit(AuditCommand::Verify { head }) => {
            let service = open(&cli.global)?;
            let verified = parlor::audit::cli::verify(&service, head.as_deref()).await;
            service.store.close().await?;
            let verified = verified?;
            println!("{}", verified.report);
            Ok(if verified.sound {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Audit(AuditCommand::Export {
            since,
            until,
            patient,
            tenant,
            format,
            out,
        }) => {
            let filter = parlor::store::audit::Filter {
                tenant: tenant.map(parlor::domain::TenantId),
                patient,
                since: parlor::native::audit_instant("since", &since)?,
                until: parlor::native::audit_instant("until", &until)?,
                ..Default::default()
            };
            let service = open(&cli.global)?;
            let mut sink: Box<dyn std::io::Write> = match &out {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create_new(path).map_err(|e| {
                        Error::invalid("out", format!("cannot create {}: {e}", path.display()))
                    })?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let written =
                parlor::audit::cli::export(&service, filter.clone(), format, &mut sink).await;
            drop(sink);
            if let Ok(count) = &written {
                // Reading the trail is itself an access to what it describes.
                let mut entry = parlor::audit::cli::entry(service.now(), "audit.export");
                entry.tenant = filter.tenant;
                entry.patients.extend(patient);
                entry.outcome = "ok".into();
                entry.detail = Some(serde_json::json!({ "entries": count }).to_string());
                service.store.record(entry).await?;
            }
            service.store.close().await?;
            let written = written?;
            if let Some(path) = out {
                eprintln!("Wrote {written} audit entries to {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(ExportCommand::Patient {
            tenant,
            user,
            format,
            out,
        }) => {
            let service = open(&cli.global)?;
            let tenant = service.find_tenant(id_ref("tenant", &tenant)?).await?;
            let format = parlor::export::Format::parse("format", &format)?;
            let done =
                parlor::export::cli::patient(&service, tenant.id, &user, format, out.as_deref())
                    .await;
            if let Ok(summary) = &done {
                if settings(&cli.global).map(|s| s.audit).unwrap_or(true) {
                    service
                        .store
                        .record(summary.cli_entry(service.now()))
                        .await?;
                }
            }
            service.store.close().await?;
            let summary = done?;
            eprintln!(
                "Exported {} conversation(s) and {} message(s) of user {} ({}){}",
                summary.conversations,
                summary.messages,
                summary.patient.0,
                summary.format.as_str(),
                out.map(|f| format!(" to {}", f.display()))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Retention(RetentionCommand::Run { dry_run, tenant }) => {
            let tenant = tenant.map(|t| id_ref("tenant", &t)).transpose()?;
            let s = settings(&cli.global)?;
            let (audited, audit_days) = (s.audit, s.audit_retention_days);
            let service = open(&cli.global)?;
            let sweep = service
                .run_retention(SweepOptions {
                    dry_run,
                    tenant,
                    audited_as: audited.then_some("cli"),
                    audit_days: Some(audit_days),
                })
                .await;
            service.store.close().await?;
            for line in sweep?.lines() {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Encrypt => {
            let s = settings(&cli.global)?;
            let done = encryption::encrypt(&s)?;
            record_conversion(&s, &done, "encrypt").await?;
            println!(
                "Encrypted {} ({} rows in {} tables), with the key in {}.",
                done.db.display(),
                done.rows,
                done.tables,
                done.key_file.display()
            );
            println!(
                "Losing that key file loses every message: keep a copy somewhere safe, away \
                 from the database and its backups."
            );
            if s.encryption_key_file.is_none() {
                println!(
                    "Parlor finds the key there; or set encryption_key_file = \"{}\".",
                    done.key_file.display()
                );
            }
            println!(
                "Backups taken before now are not encrypted: replace them with new ones \
                 (`parlor backup`) and delete the old copies."
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Rekey => {
            let s = settings(&cli.global)?;
            let done = encryption::rekey(&s)?;
            record_conversion(&s, &done, "rekey").await?;
            println!(
                "Re-encrypted {} ({} rows in {} tables) with a new key, now in {}.",
                done.db.display(),
                done.rows,
                done.tables,
                done.key_file.display()
            );
            if let Some(retired) = &done.retired_key_file {
                println!(
                    "The old key is kept in {}: backups taken before now open only with it. \
                     Take a new backup, copy the new key file to where you keep the key, and \
                     delete the old key once no backup you keep needs it.",
                    retired.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Records an `encrypt` or `rekey` in the audit trail, once the converted file is in place
/// (opened with the key now in force). Counts and the key file's place, never key material.
async fn record_conversion(
    s: &Settings,
    done: &encryption::Conversion,
    action: &str,
) -> Result<(), Error> {
    let mut s = s.clone();
    s.encryption_key_file = Some(done.key_file.clone());
    let mut entry = parlor::audit::cli::entry(parlor::domain::Clock::system().now_ms(), action);
    entry.outcome = "ok".into();
    entry.detail = Some(
        serde_json::json!({
            "tables": done.tables,
            "rows": done.rows,
            "key_file": done.key_file.display().to_string(),
        })
        .to_string(),
    );
    record_cli(&s, entry).await
}

/// Stores one audit entry of a command that did its work without the store (a backup, a
/// conversion), unless the trail is off. The file was just read or written whole: no start-up
/// check of it again.
async fn record_cli(s: &Settings, entry: parlor::audit::Entry) -> Result<(), Error> {
    if !s.audit {
        return Ok(());
    }
    let mut s = s.clone();
    s.startup_check_seconds = 0;
    let service = Service::new(server::open_store(&s)?, parlor::domain::Clock::system());
    let recorded = service.store.record(entry).await;
    service.store.close().await?;
    recorded
}

/// `parlor check`: the file first, then the badges and the search index. A damaged file stops
/// there: recounting over it would report nonsense, and `--fix` must not write into it.
async fn check(
    global: &Global,
    fix: bool,
    quick: bool,
    rebuild_search: bool,
) -> Result<ExitCode, Error> {
    let mut s = settings(global)?;
    if !s.db.exists() {
        return Err(Error::invalid(
            "db",
            format!("there is no database at {}", s.db.display()),
        ));
    }
    let depth = if quick { Depth::Quick } else { Depth::Full };
    println!(
        "Checking {} ({} check)",
        s.db.display(),
        if quick { "quick" } else { "full" }
    );
    let key = encryption::key_for(&s)?;
    let progress = parlor::progress::Progress::on_stderr("check");
    let report = integrity::verify_telling(&s.db, depth, key.as_ref(), &|step| {
        progress.phase(step, None, "")
    });
    progress.finish();
    let report = report?;
    for step in &report.steps {
        match &step.outcome {
            Outcome::Sound => println!("  {}: sound", step.name),
            Outcome::Unfinished => println!("  {}: did not finish", step.name),
            Outcome::NotRun => println!("  {}: not checked (the file is damaged)", step.name),
            Outcome::Problems(problems) => {
                println!("  {}: PROBLEMS FOUND", step.name);
                for p in problems {
                    println!("      {p}");
                }
            }
        }
    }
    let file_sound = report
        .steps
        .iter()
        .all(|step| step.derived || step.outcome == Outcome::Sound);
    if !file_sound {
        println!(
            "\nThe database file is damaged. Keep the server stopped. Move {0} (and any {0}-wal \
             and {0}-shm beside it) to another folder and keep it: do not delete it. Copy the \
             latest backup in its place, run `parlor check` on it, and start the server once it \
             is reported sound. Messages written after that backup are not in it. See README, \
             \"After a power cut or a disk error\".",
            s.db.display()
        );
        return Ok(ExitCode::from(1));
    }

    let problems_of = |name: &str| {
        report
            .steps
            .iter()
            .find(|step| step.name == name)
            .map_or(0, |step| match &step.outcome {
                Outcome::Problems(p) => p.len(),
                _ => 0,
            })
    };
    let drifted = problems_of(integrity::UNREAD_COUNTS);
    let index_off = problems_of(integrity::SEARCH_INDEX) > 0;
    if drifted == 0 {
        println!("All unread counts match the messages.");
    } else if !fix {
        println!("{drifted} unread count(s) drifted (run with --fix to correct).");
    }
    if index_off && !fix && !rebuild_search {
        println!(
            "The search index does not match the messages (run with --rebuild-search, or \
             --fix, to build it again)."
        );
    }
    let fix_counts = fix && drifted > 0;
    let rebuild = rebuild_search || (fix && index_off);
    if fix_counts || rebuild {
        // The file was just verified; the store needs no start-up check of its own. The fixes
        // run on the writer alone, and `close` leaves no -wal or -shm behind.
        s.startup_check_seconds = 0;
        let service = Service::new(server::open_store(&s)?, parlor::domain::Clock::system());
        let fixed = if fix_counts {
            service.check_read_state(true).await.map(|f| f.len())
        } else {
            Ok(0)
        };
        let indexed = match (&fixed, rebuild) {
            (Ok(_), true) => service.rebuild_search_index().await.map(Some),
            _ => Ok(None),
        };
        service.store.close().await?;
        drop(service);
        if fix_counts {
            println!("{} unread count(s) drifted; corrected.", fixed?);
        }
        if let Some(n) = indexed? {
            println!("Search index rebuilt: {n} message(s) indexed.");
        }
    }
    Ok(if drifted > 0 || index_off {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Where the new database's key is, and what it means.
fn print_new_key(made: &encryption::InitKey, configured: bool) {
    let path = made.key.source().display();
    if made.created {
        println!("The database is encrypted. Its key is in {path} (readable by this user only).");
    } else {
        println!("The database is encrypted with the key already in {path}.");
    }
    println!(
        "Losing the key loses every message, and anyone with the key and a copy of the \
         database can read it: keep a copy of the key somewhere safe, away from the database's \
         backups."
    );
    if !configured {
        println!(
            "Parlor finds the key there; to keep it elsewhere, move it and set \
             encryption_key_file. `parlor init --plain` makes an unencrypted database instead."
        );
    }
}

fn print_summary(s: &Summary) {
    println!(
        "Loaded {} tenant(s), {} user(s), {} conversation(s), {} message(s).",
        s.tenants, s.users, s.conversations, s.messages
    );
}

fn print_credentials(credentials: &[fixture::Credential]) {
    println!("Credentials:");
    let width = |f: fn(&fixture::Credential) -> &str| {
        credentials
            .iter()
            .map(|c| f(c).chars().count())
            .max()
            .unwrap_or(0)
    };
    let (tenant, kind, who) = (
        width(|c| c.tenant.as_str()),
        width(|c| c.kind),
        width(|c| c.who.as_str()),
    );
    for c in credentials {
        println!(
            "  {:<tenant$}  {:<kind$}  {:<who$}  {}",
            c.tenant, c.kind, c.who, c.value
        );
    }
}
