//! The contract as data (issue 15): `scheduler/openapi.json` is what `GET /openapi.json` serves,
//! and it describes every route of the table with exactly the methods the dispatch accepts, and
//! no route that does not exist (`svc::openapi::check_served`). `scripts/test-contract`
//! validates the document and fuzzes the running scheduler against it.

use scheduler::{Application, Config};
use tokio_util::sync::CancellationToken;

use crate::helpers::TestEnv;

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_nothing_else() {
    let env = TestEnv::new().await;
    let storage = env.root().to_str().unwrap().to_string();
    let vars = [
        ("DATABASE_URL", env.db.url.as_str()),
        ("SCHEDULER_ADDR", "127.0.0.1:0"),
        ("STORAGE_DIR", storage.as_str()),
    ];
    let config = Config::from_env(&svc::Env::from_pairs(&vars)).unwrap();
    let app = Application::build(config).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run(shutdown.clone()));
    let document = include_str!("../../openapi.json");
    let checked = svc::openapi::check_served::<scheduler::routes::Route>(&base, document).await;
    shutdown.cancel();
    let _ = running.await;
    if let Err(problems) = checked {
        panic!("scheduler/openapi.json and the route table disagree:\n{problems}");
    }
}
