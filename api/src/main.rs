//! The api process: users, sessions, videos and comments over JSON (SPEC section 3).

use api::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(&svc::Env::from_process())?;
    svc::telemetry::init(config.common.log_format);
    let app = Application::build(config).await?;
    app.run(svc::server::shutdown_on_signal()).await;
    Ok(())
}
