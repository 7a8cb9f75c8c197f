//! `parlor audit verify` and `parlor audit export`.

use std::collections::HashMap;
use std::io::Write;

use super::{Actor, Entry};
use crate::error::{Error, Result};
use crate::native::dto::audit::AuditEntryDto;
use crate::service::Service;
use crate::store::audit::{Filter, Verdict};

/// What `verify` tells the operator, and whether the trail is sound.
pub struct Verified {
    pub report: String,
    pub sound: bool,
}

/// Walks the chain; with `kept` (`SEQ:HASH`, a head printed by an earlier run and kept
/// elsewhere), also checks that entry is still there, unchanged: removing the newest entries
/// and re-chaining cannot be seen from inside the file alone.
pub async fn verify(service: &Service, kept: Option<&str>) -> Result<Verified> {
    let kept = kept
        .map(|k| {
            k.split_once(':')
                .and_then(|(seq, hash)| Some((seq.trim().parse::<i64>().ok()?, hash.trim())))
                .ok_or_else(|| Error::invalid("head", "must be SEQ:HASH, as verify printed it"))
        })
        .transpose()?;
    let verdict = service.audit_verify().await?;
    let (rows, head) = match verdict {
        Verdict::Broken { seq, problem } => {
            return Ok(Verified {
                report: format!(
                    "The audit trail is NOT intact: entry {seq}: {problem}.\nEntries before it \
                     are as they were recorded; from it on the trail cannot be trusted."
                ),
                sound: false,
            })
        }
        Verdict::Intact { rows, head } => (rows, head),
    };
    if let Some((seq, hash)) = kept {
        let filter = Filter {
            after: Some(seq - 1),
            ..Filter::default()
        };
        let found = service.audit_run(filter, seq - 1, 1).await?;
        let same = found
            .first()
            .is_some_and(|r| r.seq == seq && r.hash.eq_ignore_ascii_case(hash));
        if !(same || seq == head.0 && hash.eq_ignore_ascii_case(&head.1)) {
            return Ok(Verified {
                report: format!(
                    "The audit trail is NOT intact: the kept head {seq}:{hash} is not in it \
                     (entries were removed or rewritten since)."
                ),
                sound: false,
            });
        }
    }
    Ok(Verified {
        report: format!(
            "The audit trail is intact: {rows} entries.\nHead: {}:{}\nKeep this line somewhere \
             other than this machine; `parlor audit verify --head <it>` later proves nothing \
             up to it was changed or removed.",
            head.0, head.1
        ),
        sound: true,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

const CSV_HEADER: &str = "seq,at,tenant_id,actor_kind,actor_id,credential,surface,action,route,\
                          objects,patients,outcome,status,client,user_agent,request_id,detail,hash";

/// Writes the entries matching `filter`, oldest first, in runs (never the whole trail in
/// memory). Returns how many were written.
pub async fn export(
    service: &Service,
    filter: Filter,
    format: Format,
    out: &mut dyn Write,
) -> Result<u64> {
    let io = |e: std::io::Error| Error::internal(format!("writing the export: {e}"));
    if format == Format::Csv {
        writeln!(out, "{CSV_HEADER}").map_err(io)?;
    }
    let (mut after, mut written) = (0, 0u64);
    let none = HashMap::new();
    loop {
        let run = service.audit_run(filter.clone(), after, 1000).await?;
        let Some(last) = run.last() else {
            break;
        };
        after = last.seq;
        for r in &run {
            let dto = AuditEntryDto::new(r, &none, &none);
            match format {
                Format::Jsonl => {
                    let line = serde_json::to_string(&dto).map_err(Error::internal)?;
                    writeln!(out, "{line}").map_err(io)?;
                }
                Format::Csv => writeln!(out, "{}", csv_row(&dto)).map_err(io)?,
            }
            written += 1;
        }
    }
    out.flush().map_err(io)?;
    Ok(written)
}

fn csv_row(d: &AuditEntryDto) -> String {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let number = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
    let fields = [
        d.seq.to_string(),
        d.at.clone(),
        number(d.tenant_id),
        d.actor.kind.to_string(),
        number(d.actor.id),
        text(&d.credential),
        d.surface.clone(),
        d.action.clone(),
        text(&d.route),
        d.objects
            .iter()
            .map(|o| format!("{}:{}", o.kind, o.id))
            .collect::<Vec<_>>()
            .join(" "),
        d.patients
            .iter()
            .map(|p| p.id.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        d.outcome.clone(),
        d.status.map(|s| s.to_string()).unwrap_or_default(),
        text(&d.client),
        text(&d.user_agent),
        text(&d.request_id),
        d.detail.as_ref().map(|v| v.to_string()).unwrap_or_default(),
        d.hash.clone(),
    ];
    fields
        .iter()
        .map(|f| quoted(f))
        .collect::<Vec<_>>()
        .join(",")
}

/// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break; a formula
/// sign at the start is defused, since these files are opened in spreadsheets.
fn quoted(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '-', '@']) && field.parse::<f64>().is_err() {
        format!("'{field}")
    } else {
        field.to_string()
    };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

/// The entry a CLI command runs under: surface `cli`, the system acting, the operating-system
/// account that ran it as the client.
pub fn entry(at: crate::domain::clock::Millis, action: &str) -> Entry {
    Entry {
        at,
        surface: "cli".into(),
        actor: Actor::System,
        action: action.into(),
        client: std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .ok()
            .map(|u| format!("local user {u}")),
        ..Entry::default()
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(quoted("plain"), "plain");
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quoted("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(quoted("-5"), "-5");
    }
}
