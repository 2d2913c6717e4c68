//! The scheduler process: the durable job runner: deletion, post-upload processing, reconciliation (SPEC section 5).

use scheduler::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(&svc::Env::from_process())?;
    svc::telemetry::init(config.common.log_format);
    let app = Application::build(config).await?;
    app.run(svc::server::shutdown_on_signal()).await;
    Ok(())
}
