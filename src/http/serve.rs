//! The HTTP/1.1 server, put together from the parts actix-web's `HttpServer` is made of, with
//! the same settings, so that every accepted socket can be wrapped in a `Connection` (which
//! `HttpServer` offers no way to do). With TLS the handshake comes first, inside the same
//! accepted-connection service, so the connection limits and time limits hold for it too.

use std::fmt;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{h1, HttpService, KeepAlive, Request, Response};
use actix_server::{Server, ServerBuilder};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_web::dev::AppConfig;
use actix_web::rt::net::TcpStream;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use super::conn::Connection;
use super::stream::Stream;

/// `HttpServer`'s defaults: idle keep-alive connections and request heads get 5 s; a closing
/// connection gets 1 s to finish.
const KEEP_ALIVE: Duration = Duration::from_secs(5);
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// A TLS handshake gets as long as a request head: a client that opens connections and never
/// finishes the handshake holds each one no longer than one that never finishes a request.
const HANDSHAKE_TIMEOUT: Duration = HEAD_TIMEOUT;

/// Serves the app `factory` builds (once per worker) on `listener` with `workers` threads,
/// over TLS when `tls` is given. `cuts`: each request finds its connection's `CutHandle` in its
/// connection data (a stand-in's fault rules).
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    workers: usize,
    tls: Option<Arc<ServerConfig>>,
    cuts: bool,
    factory: F,
) -> std::io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let server = ServerBuilder::new()
        .workers(workers)
        .listen("parlor", listener, move || {
            let app = factory().into_factory().map_err(|e| {
                let e: actix_web::Error = e.into();
                e.error_response()
            });
            // `secure` makes the scheme of a request (`ConnectionInfo`, the links the native
            // API hands out) https; the host (for a request that names none) stays actix's
            // default. actix-web builds this config the same way for its own `HttpServer`,
            // through a constructor it keeps to itself and exposes only as this one.
            let secure = tls.is_some();
            let host = AppConfig::default().host().to_owned();
            let app = map_config(app, move |_| {
                AppConfig::__priv_test_new(secure, host.clone(), addr)
            });
            let http: h1::H1Service<Connection, _, _> = HttpService::build()
                .keep_alive(KeepAlive::Timeout(KEEP_ALIVE))
                .client_request_timeout(HEAD_TIMEOUT)
                .client_disconnect_timeout(DISCONNECT_TIMEOUT)
                .local_addr(addr)
                .on_connect_ext(|io: &Connection, data| {
                    if let Some(handle) = io.cut_handle() {
                        data.insert(handle);
                    }
                })
                .h1(app);
            let acceptor = tls.clone().map(TlsAcceptor::from);
            fn_service(move |io: TcpStream| {
                let acceptor = acceptor.clone();
                async move {
                    // Small responses go out at once instead of waiting on the previous one's
                    // acknowledgement (Nagle), which also keeps an error written just before a
                    // close from being held back.
                    let _ = io.set_nodelay(true);
                    let peer = io.peer_addr().ok();
                    let stream = match acceptor {
                        None => Stream::Plain(io),
                        Some(acceptor) => Stream::Tls(Box::new(handshake(&acceptor, io).await?)),
                    };
                    Ok((Connection::new(stream, cuts), peer))
                }
            })
            .and_then(http)
        })?
        .run();
    Ok(server)
}

/// The server's side of a TLS handshake, within `HANDSHAKE_TIMEOUT`. A client that fails it
/// (plain HTTP, an untrusted certificate, too slow) is simply disconnected: it never reached
/// HTTP, so there is nothing to answer.
async fn handshake(
    acceptor: &TlsAcceptor,
    io: TcpStream,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, DispatchError> {
    match actix_web::rt::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(DispatchError::Io(e)),
        Err(_) => Err(DispatchError::SlowRequestTimeout),
    }
}
