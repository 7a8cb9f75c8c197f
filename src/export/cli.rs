//! `parlor export patient`: the export written to a file or standard output.

use std::io::Write;
use std::path::Path;

use super::{Format, Requester, Summary};
use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::service::export::Out;
use crate::service::Service;

/// Bytes to a blocking writer: the command line has no other work to do meanwhile.
struct Writer<W: Write>(W);

impl<W: Write> Out for Writer<W> {
    async fn put(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.0
            .write_all(&bytes)
            .map_err(|e| Error::internal(format!("writing the export: {e}")))
    }
}

/// Exports the tenant's user `who` (id, uuid, oid or username) to `out`, or to standard output.
/// A file is written beside its final name and renamed once complete, so that a failed export
/// never leaves a file that looks whole.
pub async fn patient(
    service: &Service,
    tenant: TenantId,
    who: &str,
    format: Format,
    out: Option<&Path>,
) -> Result<Summary> {
    let subject = service.export_subject_named(tenant, who).await?;
    let Some(path) = out else {
        let mut w = Writer(std::io::BufWriter::new(std::io::stdout().lock()));
        let summary = service
            .export_patient(&subject, format, Requester::Cli, &mut w)
            .await?;
        w.0.flush()
            .map_err(|e| Error::internal(format!("writing the export: {e}")))?;
        return Ok(summary);
    };
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let cannot =
        |e: std::io::Error| Error::internal(format!("cannot write {}: {e}", path.display()));
    let file = std::fs::File::create(&partial).map_err(cannot)?;
    let mut w = Writer(std::io::BufWriter::new(file));
    let written = async {
        let summary = service
            .export_patient(&subject, format, Requester::Cli, &mut w)
            .await?;
        let file = w.0.into_inner().map_err(|e| cannot(e.into_error()))?;
        file.sync_all().map_err(cannot)?;
        std::fs::rename(&partial, path).map_err(cannot)?;
        Ok(summary)
    }
    .await;
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}
