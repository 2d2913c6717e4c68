//! The streamserver process: rate-limited upload (plain, multipart, resumable) and Range playback (SPEC section 4).

use streamserver::{Application, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(&svc::Env::from_process())?;
    svc::telemetry::init(config.common.log_format);
    let app = Application::build(config).await?;
    app.run(svc::server::shutdown_on_signal()).await;
    Ok(())
}
