//! The contract as data (issue 15): `api/openapi.json` is what `GET /openapi.json` serves, and it
//! describes every route of the table with exactly the methods the dispatch accepts, and no
//! route that does not exist (`svc::openapi::check_served`). What each operation answers is
//! checked by `scripts/test-contract` (schemathesis against the running api).

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_nothing_else() {
    let app = spawn_app(&[]).await;
    let document = include_str!("../../openapi.json");
    let checked = svc::openapi::check_served::<api::routes::Route>(&app.url(""), document).await;
    if let Err(problems) = checked {
        panic!("api/openapi.json and the route table disagree:\n{problems}");
    }
}
