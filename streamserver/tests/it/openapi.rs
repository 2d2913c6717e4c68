//! The contract as data (issue 15): `streamserver/openapi.json` is what `GET /openapi.json`
//! serves, and it describes every route of the table with exactly the methods the dispatch
//! accepts, and no route that does not exist (`svc::openapi::check_served`). What each operation
//! answers is checked by `scripts/test-contract` (schemathesis against the running streamserver);
//! what that fuzzing found is pinned here, one test each.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{fake_mp4, spawn_app, spawn_app_with, PATIENCE};

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_nothing_else() {
    let app = spawn_app().await;
    let document = include_str!("../../openapi.json");
    let checked = svc::openapi::check_served::<streamserver::Route>(&app.url(""), document).await;
    if let Err(problems) = checked {
        panic!("streamserver/openapi.json and the route table disagree:\n{problems}");
    }
}

/// Found by schemathesis: a `PUT /upload/{vid}` announcing more bytes than it sends was never
/// answered, and held one of the `MAX_UPLOADS` slots and the video's upload lock for as long as
/// the client kept the connection open; a few such clients stopped every upload. A body that
/// brings no byte for `UPLOAD_IDLE_TIMEOUT` is now given up with 400.
#[tokio::test]
async fn a_stalled_upload_body_is_given_up_and_frees_its_slot_and_the_video() {
    let app = spawn_app_with(&[("UPLOAD_IDLE_TIMEOUT", "1s"), ("MAX_UPLOADS", "1")]).await;
    let (_, sid, vid) = app.user_with_video().await;
    let file = fake_mp4(64 * 1024);
    let mut sock = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "PUT /upload/{vid} HTTP/1.1\r\nHost: test\r\nX-Session-Id: {sid}\r\n\
         Content-Type: video/mp4\r\nContent-Length: {}\r\n\r\n",
        file.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&file[..2048]).await.unwrap();
    // The client stalls with the connection open: the server answers on its own.
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(PATIENCE, sock.read(&mut answer))
        .await
        .expect("a stalled upload body was never answered")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"error_code\":\"001\""), "{answer}");
    assert!(answer.contains("no data for"), "{answer}");
    // Its slot (the only one) and the video's lock are free: the same video uploads at once.
    let resp = app.put(&vid, Some(&sid), file).await;
    assert_eq!(resp.status(), reqwest::StatusCode::CREATED);
}

#[test]
fn the_upload_idle_timeout_is_60s_unless_set_and_never_zero() {
    let config =
        |pairs: &[(&str, &str)]| streamserver::Config::from_env(&svc::Env::from_pairs(pairs));
    let default = config(&[]).unwrap();
    assert_eq!(
        default.upload_idle_timeout,
        std::time::Duration::from_secs(60)
    );
    let set = config(&[("UPLOAD_IDLE_TIMEOUT", "2m")]).unwrap();
    assert_eq!(set.upload_idle_timeout, std::time::Duration::from_secs(120));
    let zero = config(&[("UPLOAD_IDLE_TIMEOUT", "0s")]).unwrap_err();
    assert_eq!(zero.name, "UPLOAD_IDLE_TIMEOUT");
    assert!(zero.reason.contains("more than 0"), "{}", zero.reason);
}
