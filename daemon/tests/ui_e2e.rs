//! The web dashboard (`/ui`) in headless Chromium against `cortex dev
//! --demo`: the page is loaded with the admin token in its fragment, the
//! browser runs its script against the real APIs, and the DOM it leaves
//! behind is checked. Screenshots of each page go to
//! `$CARGO_TARGET_TMPDIR/ui-screenshots` (printed).
//!
//! Pages that only need their data once are taken with `chromium
//! --dump-dom`; a run followed live is watched through WebDriver
//! (`support/webdriver.rs`), because the page keeps changing in real time.
//!
//! Chromium and chromedriver are required: without them the test fails and
//! says how to get them (`scripts/test.sh` installs Debian's `chromium` and
//! `chromium-driver`).

#[path = "support/webdriver.rs"]
mod webdriver;

use cortex_chaos::ports::free_consecutive_ports;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

/// A run that takes a few seconds: `scan` reports progress every half
/// second, then `test` runs; `release` waits for an approval; `flaky`, a
/// critical task without retries, fails once (when `MARKER` is absent) and
/// waits on an escalation.
const SLOW_PLAN: &str = r#"
apiVersion: cortex.dev/v1
kind: Run
metadata: { name: watched-in-browser }
spec:
  budget: { total: 20000, emergencyReserve: 0 }
  masters:
    security: { personal: 1000, workers: 8000 }
    testing: { personal: 1000, workers: 8000 }
  tasks:
    - id: scan
      master: security
      worker: scan
      budget: 1000
      executor: { process: { command: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do echo \"{\\\"progress\\\": $((i*12)), \\\"message\\\": \\\"step $i\\\"}\"; sleep 0.5; done"] } }
    - id: test
      master: testing
      worker: test
      budget: 1000
      dependsOn: [scan]
      executor: { process: { command: ["sh", "-c", "echo '{\"progress\": 50, \"message\": \"testing\"}'; sleep 1"] } }
    - id: release
      master: testing
      worker: review
      budget: 1000
      approval: required
      executor: { process: { command: ["true"] } }
    - id: flaky
      master: security
      worker: fix
      budget: 1000
      priority: critical
      retries: 0
      executor: { process: { command: ["sh", "-c", "test -e MARKER || { touch MARKER; exit 1; }"] } }
"#;

/// What the run page shows, read in the browser: status, events streamed,
/// each master's percent and activity.
const RUN_STATE: &str = r#"
const summary = document.getElementById('run-summary');
const live = document.getElementById('live');
const masters = {};
for (const m of document.querySelectorAll('[data-master]')) {
  masters[m.dataset.master] = [Number(m.dataset.percent), m.querySelector('.activity').textContent];
}
return { status: summary && summary.dataset.status, events: live ? Number(live.dataset.events) : 0, masters };
"#;

/// The Chromium to drive: `$CHROMIUM`, or `chromium` on the PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the dashboard tests need Chromium and found none on the PATH: \
         apt-get install chromium (scripts/test.sh does), or set CHROMIUM"
    );
}

/// One headless Chromium run of `url` with `what` (`--dump-dom` or
/// `--screenshot=PATH`); its standard output. The virtual time budget lets
/// the page's fetches and timers run before the DOM is taken.
fn browse(url: &str, what: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--window-size=1280,900",
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(what)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // Chromium signals its whole process group as it exits; in a group
        // of its own it cannot take the test (and nextest's group) with it.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromium: {e}"));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    wait_or_kill(&mut child, Duration::from_secs(90), url);
    reader.join().unwrap()
}

/// The `cortex dev` under test; killed if the test fails before stopping it.
struct Dev(Child);

impl Drop for Dev {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn wait_or_kill(child: &mut Child, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{what}: {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish {what} within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The page at `route` (a hash route) with the token, as the browser left
/// it, after asserting it reached the `ready` state; a screenshot of it is
/// saved as `shots/NAME.png`.
fn page(api: u16, token: &str, route: &str, ready: &str, shots: &Path, name: &str) -> String {
    let sep = if route.contains('?') { '&' } else { '?' };
    let url = format!("http://127.0.0.1:{api}/ui/#{route}{sep}token={token}");
    let dom = browse(&url, "--dump-dom");
    assert!(
        dom.contains(&format!("data-ready=\"{ready}\"")),
        "{route} did not reach {ready}:\n{dom}"
    );
    let shot = shots.join(format!("{name}.png"));
    browse(&url, &format!("--screenshot={}", shot.display()));
    assert!(shot.exists(), "no screenshot at {}", shot.display());
    dom
}

/// Every `"` + `attr="` value in `dom`.
fn attr_values<'a>(dom: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    dom.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &dom[at + needle.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect()
}

/// `GET path` over a bare socket: the status line and headers, lower-cased.
fn head(api: u16, path: &str) -> String {
    let mut socket = TcpStream::connect(("127.0.0.1", api)).unwrap();
    write!(
        socket,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    answer
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase()
}

#[test]
fn dashboard_shows_the_demo_run_the_cluster_and_the_catalog() {
    let started = Instant::now();
    chromium(); // fail first, and clearly, without a browser
    let dir = tempfile::tempdir().unwrap();
    let repository = std::fs::canonicalize(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
    let (api, raft) = (
        free_consecutive_ports(7).unwrap(),
        free_consecutive_ports(3).unwrap(),
    );
    let mut dev = Dev(Command::new(env!("CARGO_BIN_EXE_cortex"))
        .args(["dev", "--demo", "--api-port", &api.to_string()])
        .args(["--raft-port", &raft.to_string()])
        .args(["--data-dir", dir.path().join("dev").to_str().unwrap()])
        .env_remove("CORTEX_ADMIN_TOKEN")
        // As `make dev` does: the demo's git-inventory catalogues this repository.
        .current_dir(&repository)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let stdout = dev.0.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("Try:")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => {
                panic!("no demo report within 120 s:\n{}", seen.join("\n"));
            }
        }
    }
    let token = std::fs::read_to_string(dir.path().join("dev/admin-token")).unwrap();
    let token = token.trim();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    // The files are open, same-origin only, and hold no data.
    let index = head(api, "/ui");
    assert!(index.starts_with("http/1.1 200"), "{index}");
    assert!(index.contains("content-type: text/html"), "{index}");
    assert!(
        index.contains("content-security-policy: default-src 'none'; script-src 'self';"),
        "{index}"
    );
    assert!(head(api, "/ui/app.js").contains("content-type: text/javascript"));
    assert!(head(api, "/ui/style.css").contains("content-type: text/css"));
    assert!(head(api, "/ui/secrets").starts_with("http/1.1 404"));
    assert!(head(api, "/v1/runs").starts_with("http/1.1 401"));

    // Without a token the app asks for one.
    let login = browse(&format!("http://127.0.0.1:{api}/ui/"), "--dump-dom");
    assert!(login.contains("data-ready=\"login\""), "{login}");

    // Runs: the demo's run, linked.
    let runs = page(api, token, "/runs", "runs", &shots, "runs");
    let run_link = attr_values(&runs, "href")
        .into_iter()
        .find(|h| h.starts_with("#/runs/"))
        .unwrap_or_else(|| panic!("no run linked:\n{runs}"))
        .to_owned();

    // The run: seven master bars at 100%, the four agents' workers, the report.
    let run = page(api, token, &run_link[1..], "run", &shots, "run");
    assert!(run.contains("data-status=\"completed\""), "{run}");
    let masters = attr_values(&run, "data-master");
    assert_eq!(masters.len(), 7, "{masters:?}");
    assert_eq!(attr_values(&run, "data-percent"), vec!["100"; 7], "{run}");
    let nodes = attr_values(&run, "data-node");
    assert_eq!(
        nodes,
        [
            "k3s-worker01",
            "k3s-worker02",
            "k3s-worker03",
            "k3s-worker04"
        ],
        "{run}"
    );
    let completed_cells = run.matches("class=\"cell completed\"").count();
    // The legend's green swatch is a cell too; each of the 28 tasks ran at
    // least once.
    assert!(completed_cells > 28, "{completed_cells} completed cells");
    assert!(!run.contains("class=\"cell failed\" title=\"preflight"));
    assert!(run.contains("id=\"report\""), "{run}");
    assert!(run.contains("Execution Report"), "{run}");

    // Cluster: a leader, seven leases, the four agents alive.
    let cluster = page(api, token, "/cluster", "cluster", &shots, "cluster");
    assert!(cluster.contains("id=\"leader\">voter "), "{cluster}");
    for n in 1..=4 {
        assert!(
            cluster.contains(&format!("data-executor=\"k3s-worker0{n}\"")),
            "{cluster}"
        );
    }

    // Catalog: a search finds this repository, catalogued by git-inventory.
    let name = repository.file_name().unwrap().to_str().unwrap();
    let catalog = page(
        api,
        token,
        &format!("/catalog?q={name}&type=repository"),
        "catalog",
        &shots,
        "catalog",
    );
    assert!(
        catalog.contains(&format!(">{name}</a></td><td>repository</td>")),
        "{catalog}"
    );
    let asset_link = attr_values(&catalog, "href")
        .into_iter()
        .find(|h| h.starts_with("#/assets/"))
        .unwrap()
        .to_owned();

    // Its lineage: its branches and commits, drawn as edges and listed.
    let asset = page(
        api,
        token,
        &format!("{}?depth=2", &asset_link[1..]),
        "asset",
        &shots,
        "lineage",
    );
    let drawn = asset.matches("class=\"edge\"").count();
    let listed = asset.matches("class=\"edge-item\"").count();
    assert!(drawn >= 2, "{drawn} edges drawn:\n{asset}");
    assert_eq!(drawn, listed, "every edge drawn is listed");
    assert!(asset.contains("MEMBER_OF"), "{asset}");

    // A run followed live: the page opened while it runs moves its bars
    // from the event stream, without a reload, to 100% when it ends.
    let marker = dir.path().join("flaky-failed-once");
    let browser = webdriver::Browser::start(cortex_chaos::ports::free_port().unwrap());
    let submitted: Value = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{api}/v1/runs"))
            .bearer_auth(token)
            .body(SLOW_PLAN.replace("MARKER", marker.to_str().unwrap()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let id = submitted["id"]
        .as_str()
        .unwrap_or_else(|| panic!("plan refused: {submitted}"));
    browser.goto(&format!(
        "http://127.0.0.1:{api}/ui/#/runs/{id}?token={token}"
    ));
    let percent = |state: &Value, master: &str| state["masters"][master][0].as_u64().unwrap_or(0);
    let midway = browser.wait_until(
        RUN_STATE,
        |state| {
            state["status"] == "running"
                && state["events"].as_u64() > Some(0)
                && (1..100).contains(&percent(state, "security"))
        },
        Duration::from_secs(30),
        "the security bar partly full while the run runs",
    );
    browser.screenshot(&shots.join("run-live.png"));
    // The run ends only once `release` is approved: press its button.
    let pressed = browser.eval(
        "const b = document.querySelector('[data-approve=\"release\"]'); if (b) b.click(); return !!b;",
    );
    assert_eq!(pressed, Value::Bool(true), "no Approve button for release");
    // `flaky` failed and waits on an escalation: press its Retry.
    let retry = "const b = document.querySelector('[data-escalation-task=\"flaky\"] [data-action=\"retry\"]'); \
                 if (b) b.click(); return !!b;";
    browser.wait_until(
        retry,
        |pressed| pressed == &Value::Bool(true),
        Duration::from_secs(30),
        "a Retry button on flaky's escalation",
    );
    let finished = browser.wait_until(
        RUN_STATE,
        |state| state["status"] == "completed",
        Duration::from_secs(60),
        "the page showing the run completed",
    );
    assert_eq!(percent(&finished, "security"), 100, "{finished}");
    assert_eq!(percent(&finished, "testing"), 100, "{finished}");
    assert!(
        finished["events"].as_u64() > midway["events"].as_u64(),
        "events streamed: {midway} then {finished}"
    );
    let shown = finished["masters"]["security"][1].as_str().unwrap();
    assert!(shown.starts_with("step "), "security activity: {shown}");
    // A task's logs open under the tasks.
    browser.eval("document.getElementById('logs-scan').click(); return null;");
    browser.wait_until(
        "const l = document.getElementById('logs'); return l ? l.textContent : null;",
        |logs| logs.as_str().is_some_and(|l| l.starts_with("Logs of scan")),
        Duration::from_secs(10),
        "scan's logs shown",
    );
    // Nothing optional that was absent leaked onto the page as text.
    let text = browser.eval("return document.getElementById('main').innerText;");
    assert!(!text.as_str().unwrap().contains("null"), "{text}");
    drop(browser);
    println!(
        "ui_e2e: screenshots in {} ({:.1} s)",
        shots.display(),
        started.elapsed().as_secs_f64()
    );

    kill(Pid::from_raw(dev.0.id() as i32), Signal::SIGINT).unwrap();
    wait_or_kill(&mut dev.0, Duration::from_secs(20), "cortex dev stopping");
}
