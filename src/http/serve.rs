//! The HTTP/1.1 server, put together from the parts actix-web's `HttpServer` is made of, with
//! the same settings, so that every accepted socket can be wrapped in a `Connection` (which
//! `HttpServer` offers no way to do).

use std::fmt;
use std::net::TcpListener;
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{h1, HttpService, KeepAlive, Request, Response};
use actix_server::{Server, ServerBuilder};
use actix_service::{
    fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_web::dev::AppConfig;
use actix_web::rt::net::TcpStream;

use super::conn::Connection;

/// `HttpServer`'s defaults: idle keep-alive connections and request heads get 5 s; a closing
/// connection gets 1 s to finish.
const KEEP_ALIVE: Duration = Duration::from_secs(5);
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves the app `factory` builds (once per worker) on `listener` with `workers` threads.
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    workers: usize,
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
            // Host and address for URL generation when a request names no host; Parlor
            // generates none.
            let app = map_config(app, |_| AppConfig::default());
            let http: h1::H1Service<Connection, _, _> = HttpService::build()
                .keep_alive(KeepAlive::Timeout(KEEP_ALIVE))
                .client_request_timeout(HEAD_TIMEOUT)
                .client_disconnect_timeout(DISCONNECT_TIMEOUT)
                .local_addr(addr)
                .h1(app);
            fn_service(|io: TcpStream| async move {
                // Small responses go out at once instead of waiting on the previous one's
                // acknowledgement (Nagle), which also keeps an error written just before a
                // close from being held back.
                let _ = io.set_nodelay(true);
                let peer = io.peer_addr().ok();
                Ok((Connection::new(io), peer))
            })
            .and_then(http)
        })?
        .run();
    Ok(server)
}
