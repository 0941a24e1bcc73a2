//! `sealpost serve` (and `sealpost` alone): builds the application and serves until SIGINT or
//! SIGTERM.

use tokio_util::sync::CancellationToken;

use sealpost::config::Settings;
use sealpost::startup::{Application, StartupError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("starting the server")]
    Start(#[source] StartupError),
    #[error("serving")]
    Serving(#[source] std::io::Error),
}

pub async fn run(settings: Settings) -> Result<(), ServeError> {
    let app = Application::build(settings)
        .await
        .map_err(ServeError::Start)?;
    let mut addr = app.local_addr();
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    println!("Sealpost is serving http://{addr}/");
    if let Some(smtp) = app.smtp_addr() {
        println!("Relay mail is accepted over SMTP on {smtp}");
    }
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        trigger.cancel();
    });
    app.run_until(shutdown).await.map_err(ServeError::Serving)?;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
