//! Whether the server's traffic is protected in transit: the start-up warning when it listens
//! beyond this machine without TLS, and `GET /admin/transport`, from which the admin page
//! shows the same warning as a banner (on the sign-in form too, before a password is typed).

use std::net::{IpAddr, SocketAddr};

use actix_web::{web, HttpResponse};

pub const ROUTE: &str = "/admin/transport";

#[derive(Clone, Copy, Debug)]
pub struct Transport {
    /// Built-in TLS is on.
    pub tls: bool,
    /// The address the server listens on.
    pub addr: SocketAddr,
}

#[derive(serde::Serialize)]
struct TransportDto {
    tls: bool,
    loopback: bool,
    warning: Option<String>,
}

impl Transport {
    /// Only this machine can reach the server (127.0.0.0/8, ::1; `localhost` binds to one).
    pub fn loopback(&self) -> bool {
        match self.addr.ip() {
            IpAddr::V4(ip) => ip.is_loopback(),
            IpAddr::V6(ip) => ip
                .to_ipv4_mapped()
                .map_or(ip.is_loopback(), |v4| v4.is_loopback()),
        }
    }

    /// What to tell the clinic when other machines can reach the server without TLS.
    pub fn warning(&self) -> Option<String> {
        (!self.tls && !self.loopback()).then(|| {
            format!(
                "Parlor listens on {} without TLS: passwords, tokens and patients' messages \
                 cross the network unencrypted. Set tls_cert and tls_key, or bind to 127.0.0.1 \
                 behind a reverse proxy that terminates TLS (README, \"Transport security\").",
                self.addr
            )
        })
    }
}

pub async fn status(transport: web::Data<Transport>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TransportDto {
            tls: transport.tls,
            loopback: transport.loopback(),
            warning: transport.warning(),
        })
}
