//! The streamserver process: rate-limited upload (plain, multipart, resumable) and Range playback (SPEC section 4).

use streamserver::{Application, Config};

/// mimalloc rather than glibc's malloc: a quarter less CPU per small playback answer (glibc's
/// arena locks and consolidation showed in its profile), with transparent huge pages off
/// (`no_thp`), without which its heaps held 2 MiB pages and the process sat 30 MiB higher after
/// load (ARCHITECTURE.md, "streamserver", small answers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::from_env(&svc::Env::from_process())?;
    svc::telemetry::init(config.common.log_format);
    let app = Application::build(config).await?;
    app.run(svc::server::shutdown_on_signal()).await;
    Ok(())
}
