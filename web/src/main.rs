//! The web process: server-rendered pages and the same-origin reverse proxy to api and streamserver (SPEC section 6).

use web::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(&svc::Env::from_process())?;
    svc::telemetry::init(config.common.log_format);
    let app = Application::build(config).await?;
    app.run(svc::server::shutdown_on_signal()).await;
    Ok(())
}
