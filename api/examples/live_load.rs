//! The load client of `bench/live.sh` (issue 14): many live streams (`GET /videos/{vid}/live`)
//! held open against real api processes, over plain TCP so the client costs little next to
//! the server it measures.
//!
//! - `idle`: opens `--streams` streams against one api (`--pid`), then reports the api's resident
//!   memory growth per stream, how many of its connections it writes outside hyper (its
//!   `http_connections_taken_over` gauge: each stream on a fresh connection should be) and its
//!   CPU time while they sit idle for `--idle` seconds. With `--web <pid>` the streams go to web
//!   instead (`--node` is web, the path `/api/videos/{vid}/live`, as a browser opens them) and the
//!   figures are web's, with the api's memory growth (`--pid`) beside them: what a stream costs
//!   the proxy in front of the api.
//! - `connections`: the reference for `idle`: opens as many keep-alive connections that have
//!   each made one request (`GET /healthz`) and sit idle, and reports the resident memory growth
//!   per connection: what the server loop costs for any idle connection, stream or not.
//! - `fanout`: opens `--viewers` streams spread over the api nodes in `--nodes`, posts one
//!   danmaku every `--every-ms` through them in turn for `--seconds` (as the users whose sessions
//!   are in `--sessions`, in turn: each may send one every 2 s), and reports the delivery
//!   latency (send to arrival at each viewer: p50, p99, max), what was lost, and the database
//!   statements per second the api nodes ran (MariaDB's `USER_STATISTICS` of their database
//!   user `--db-user`, read through `--admin`) while posting with the viewers connected, against
//!   posting with none and the viewers connected idle.
//!
//! Not a test: it prints figures; `bench/live.sh` builds and runs it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// `--name value` of the command line.
fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn need(name: &str) -> String {
    arg(name).unwrap_or_else(|| panic!("{name} is required"))
}

fn num(name: &str, default: u64) -> u64 {
    arg(name).map_or(default, |v| v.parse().expect("a number"))
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// An SSE response body being read: HTTP/1.1 chunked framing taken off, text handed on.
struct Sse {
    reader: BufReader<TcpStream>,
}

impl Sse {
    /// Opens `path` on `addr` and reads the response head (200 or an error).
    async fn open(addr: SocketAddr, path: &str) -> Result<Self, Error> {
        let mut stream = TcpStream::connect(addr).await?;
        let head =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
        stream.write_all(head.as_bytes()).await?;
        let mut reader = BufReader::with_capacity(4096, stream);
        let mut line = String::new();
        reader.read_line(&mut line).await?;
        if !line.starts_with("HTTP/1.1 200") {
            return Err(format!("{path}: {}", line.trim()).into());
        }
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        Ok(Sse { reader })
    }

    /// The next chunk of the body as text; `None` at its end.
    async fn chunk(&mut self) -> Result<Option<String>, Error> {
        let mut size = String::new();
        if self.reader.read_line(&mut size).await? == 0 {
            return Ok(None);
        }
        let size = usize::from_str_radix(size.trim(), 16)?;
        if size == 0 {
            return Ok(None);
        }
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).await?;
        data.truncate(size);
        Ok(Some(String::from_utf8(data)?))
    }
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of `pid` in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// Opens `n` streams spread over `nodes` (at most 256 connecting at once), each read to the
/// end by its own task that hands every chunk to `on_chunk`. Returns when all are open.
async fn open_many(
    nodes: &[SocketAddr],
    path: &str,
    n: usize,
    on_chunk: Arc<dyn Fn(&str) + Send + Sync>,
) -> Result<Arc<AtomicUsize>, Error> {
    let open = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(256));
    let mut waits = Vec::with_capacity(n);
    for i in 0..n {
        let addr = nodes[i % nodes.len()];
        let path = path.to_string();
        let (gate, open, on_chunk) = (gate.clone(), open.clone(), on_chunk.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), String>>();
        waits.push(rx);
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let mut sse = match Sse::open(addr, &path).await {
                Ok(sse) => sse,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                    return;
                }
            };
            // Open once the first chunk (retry and the count) has arrived.
            match sse.chunk().await {
                Ok(Some(first)) => on_chunk(&first),
                other => {
                    let _ = tx.send(Err(format!("no first chunk: {other:?}")));
                    return;
                }
            }
            drop(permit);
            open.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(Ok(()));
            while let Ok(Some(chunk)) = sse.chunk().await {
                on_chunk(&chunk);
            }
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }
    for w in waits {
        w.await.map_err(|_| "a stream task ended")??;
    }
    Ok(open)
}

/// A connection that has made one plain request and sits idle, kept alive.
async fn keep_alive(node: SocketAddr) -> Result<TcpStream, Error> {
    let mut s = TcpStream::connect(node).await?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
        .await?;
    let mut answer = vec![0; 1024];
    let mut got = 0;
    // The answer is small; its body, the last thing in it, is "ok\n".
    while !answer[..got].ends_with(b"ok\n") {
        let r = s.read(&mut answer[got..]).await?;
        if r == 0 {
            return Err("closed".into());
        }
        got += r;
    }
    Ok(s)
}

async fn connections() -> Result<(), Error> {
    let node: SocketAddr = need("--node").parse()?;
    let pid: u32 = need("--pid").parse()?;
    let n = num("--streams", 10_000) as usize;
    let mut warm = vec![];
    for _ in 0..10 {
        warm.push(keep_alive(node).await?);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = resident_kib(pid);
    let gate = Arc::new(Semaphore::new(256));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            keep_alive(node).await.map_err(|e| e.to_string())
        }));
    }
    let mut held = Vec::with_capacity(n);
    for t in tasks {
        held.push(t.await??);
    }
    // Before HEADER_READ_TIMEOUT (10 s) closes idle keep-alive connections.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = resident_kib(pid);
    println!(
        "reference: api RSS {before} KiB -> {after} KiB with {n} idle keep-alive connections: {:.2} KiB per connection",
        (after.saturating_sub(before)) as f64 / n as f64
    );
    drop((warm, held));
    Ok(())
}

/// A gauge of the api's `/metrics` (0 when it is absent).
async fn gauge(node: SocketAddr, name: &str) -> Result<f64, Error> {
    let mut s = TcpStream::connect(node).await?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        .await?;
    let mut text = String::new();
    s.read_to_string(&mut text).await?;
    let prefix = format!("{name} ");
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0))
}

async fn idle() -> Result<(), Error> {
    let node: SocketAddr = need("--node").parse()?;
    let api_pid: u32 = need("--pid").parse()?;
    // Through web: web's figures, the api's memory beside them.
    let web_pid: Option<u32> = arg("--web").map(|p| p.parse()).transpose()?;
    let (pid, what, prefix) = match web_pid {
        Some(web) => (web, "web", "/api"),
        None => (api_pid, "api", ""),
    };
    let path = format!("{prefix}/videos/{}/live", need("--vid"));
    let streams = num("--streams", 10_000) as usize;
    let quiet = num("--idle", 30);
    let tick = 100.0; // USER_HZ on Linux
                      // A few streams first, so what every process pays once (buffers, the channel) is not
                      // counted per stream.
    let warm = open_many(&[node], &path, 10, Arc::new(|_: &str| {})).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = resident_kib(pid);
    let api_before = resident_kib(api_pid);
    let started = Instant::now();
    let open = open_many(&[node], &path, streams, Arc::new(|_: &str| {})).await?;
    let opened_in = started.elapsed();
    // Let the count events of the ramp (one a second) die down.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = resident_kib(pid);
    let api_after = resident_kib(api_pid);
    let taken_over = gauge(node, "http_connections_taken_over").await?;
    let ticks = cpu_ticks(pid);
    tokio::time::sleep(Duration::from_secs(quiet)).await;
    let cpu = (cpu_ticks(pid) - ticks) as f64 / tick;
    let held = open.load(Ordering::SeqCst);
    println!(
        "idle: {streams} streams opened in {:.1} s; {held} still open after {quiet} s",
        opened_in.as_secs_f64()
    );
    println!(
        "idle: {taken_over} of {what}'s connections written outside hyper (http_connections_taken_over)"
    );
    println!(
        "idle: {what} RSS {before} KiB -> {after} KiB: {:.2} KiB per stream{}",
        (after.saturating_sub(before)) as f64 / streams as f64,
        if web_pid.is_none() {
            " (goal < 8 KiB)"
        } else {
            ""
        }
    );
    if web_pid.is_some() {
        println!(
            "idle: api RSS behind web {api_before} KiB -> {api_after} KiB: {:.2} KiB per stream",
            (api_after.saturating_sub(api_before)) as f64 / streams as f64
        );
    }
    println!(
        "idle: {what} CPU {cpu:.2} s over {quiet} s idle with {held} streams: {:.2}% of one core (goal ~0)",
        cpu / quiet as f64 * 100.0
    );
    drop(warm);
    Ok(())
}

/// How many statements the api processes have run: MariaDB's per-user statistics (`userstat`)
/// of the database user they run as (`--db-user`), so that other clients of the same server do
/// not count.
async fn questions(pool: &mysql_async::Pool) -> Result<u64, Error> {
    let user = need("--db-user");
    let mut conn = pool.get_conn().await?;
    let n: Option<u64> = conn
        .exec_first(
            "SELECT CAST(SELECT_COMMANDS + UPDATE_COMMANDS + OTHER_COMMANDS AS UNSIGNED)
               FROM information_schema.USER_STATISTICS WHERE USER = ?",
            (user,),
        )
        .await?;
    Ok(n.unwrap_or(0))
}

/// Posts one danmaku a `every` for `seconds`, through each node and as each session in turn;
/// returns how many were accepted and the database queries per second meanwhile.
async fn post_for(
    nodes: &[SocketAddr],
    vid: &str,
    sessions: &[String],
    every: Duration,
    seconds: u64,
    pool: &mysql_async::Pool,
) -> Result<(u64, u64, f64), Error> {
    let q0 = questions(pool).await?;
    let started = Instant::now();
    let mut tick = tokio::time::interval(every);
    let mut posts = vec![];
    let mut i = 0usize;
    while started.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        let node = nodes[i % nodes.len()];
        let session = &sessions[i % sessions.len()];
        i += 1;
        let body = format!(
            "{{\"text\":\"bench {i} {}\",\"at_ms\":{}}}",
            now_micros(),
            i % 5000
        );
        let req = format!(
            "POST /videos/{vid}/danmaku HTTP/1.1\r\nHost: {node}\r\nX-Session-Id: {session}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        // A connection per post, as the site's visitors each have their own; not waited for,
        // so a slow answer does not delay the next post.
        posts.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(node).await.ok()?;
            s.write_all(req.as_bytes()).await.ok()?;
            let mut answer = String::new();
            s.read_to_string(&mut answer).await.ok()?;
            Some(answer.starts_with("HTTP/1.1 201"))
        }));
    }
    let (mut sent, mut refused) = (0u64, 0u64);
    for post in posts {
        match post.await {
            Ok(Some(true)) => sent += 1,
            _ => refused += 1,
        }
    }
    let took = started.elapsed().as_secs_f64();
    let q = (questions(pool).await? - q0) as f64 / took;
    Ok((sent, refused, q))
}

async fn fanout() -> Result<(), Error> {
    let nodes: Vec<SocketAddr> = need("--nodes")
        .split(',')
        .map(|n| n.parse())
        .collect::<Result<_, _>>()?;
    let vid = need("--vid");
    let sessions: Vec<String> = need("--sessions").split(',').map(str::to_owned).collect();
    let viewers = num("--viewers", 2000) as usize;
    let every = Duration::from_millis(num("--every-ms", 100));
    let seconds = num("--seconds", 30);
    let pool = mysql_async::Pool::new(need("--admin").as_str());
    let path = format!("/videos/{vid}/live");

    // Posting with nobody watching: what the posts themselves cost the database.
    let (_, _, q_posting_alone) =
        post_for(&nodes, &vid, &sessions, every, seconds.min(10), &pool).await?;
    // Allowances refill (one danmaku per user per 2 s).
    tokio::time::sleep(Duration::from_secs(3)).await;

    let latencies = Arc::new(Mutex::new(Vec::<u32>::with_capacity(viewers * 400)));
    let received = Arc::new(AtomicU64::new(0));
    let on_chunk = {
        let (latencies, received) = (latencies.clone(), received.clone());
        Arc::new(move |chunk: &str| {
            let now = now_micros();
            for event in chunk.split("\n\n") {
                if !event.contains("event: danmaku\n") {
                    continue;
                }
                let Some(sent) = event
                    .split("\"text\":\"bench ")
                    .nth(1)
                    .and_then(|t| t.split('"').next())
                    .and_then(|t| t.split(' ').nth(1))
                    .and_then(|t| t.parse::<u64>().ok())
                else {
                    continue;
                };
                received.fetch_add(1, Ordering::Relaxed);
                let ms = (now.saturating_sub(sent) / 1000) as u32;
                if let Ok(mut l) = latencies.lock() {
                    l.push(ms);
                }
            }
        })
    };
    let started = Instant::now();
    let open = open_many(&nodes, &path, viewers, on_chunk).await?;
    println!(
        "fanout: {viewers} viewers open over {} nodes in {:.1} s",
        nodes.len(),
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The viewers connected, nothing posted: the fan-out's own upkeep (polls, presence).
    let q0 = questions(&pool).await?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let q_idle = (questions(&pool).await? - q0) as f64 / 10.0;
    if let Ok(mut l) = latencies.lock() {
        l.clear();
    }
    received.store(0, Ordering::SeqCst);

    let (sent, refused, q_loaded) =
        post_for(&nodes, &vid, &sessions, every, seconds, &pool).await?;
    // Stragglers.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = received.load(Ordering::SeqCst);
    let mut l = latencies.lock().map_err(|_| "poisoned")?.clone();
    l.sort_unstable();
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "fanout: {sent} danmaku posted in {seconds} s ({refused} refused), {got} of {} deliveries arrived to {} viewers still open",
        sent * viewers as u64,
        open.load(Ordering::SeqCst)
    );
    println!(
        "fanout: delivery latency p50 {} ms, p90 {} ms, p99 {} ms (goal < 1500), max {} ms",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        l.last().copied().unwrap_or(0)
    );
    println!(
        "fanout: database statements/s of both nodes: {q_posting_alone:.1} posting with no viewers, {q_idle:.1} with {viewers} viewers and no posts, {q_loaded:.1} posting to {viewers} viewers ({:+.1} for the viewers)",
        q_loaded - q_posting_alone
    );
    pool.disconnect().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    match std::env::args().nth(1).as_deref() {
        Some("idle") => idle().await,
        Some("fanout") => fanout().await,
        Some("connections") => connections().await,
        _ => Err("usage: live_load idle|connections|fanout [--options]; see bench/live.sh".into()),
    }
}
