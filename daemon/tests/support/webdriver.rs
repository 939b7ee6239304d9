//! A minimal W3C WebDriver client for `chromedriver` (Debian's
//! `chromium-driver`): one headless Chromium session that can open a page,
//! run a script in it and take a screenshot, in real time. The dashboard
//! test uses it where `chromium --dump-dom` cannot help: a page that keeps
//! changing while a run's event stream is open (`--virtual-time-budget`
//! runs out as soon as the network is idle, long before a run ends).
//!
//! Included by `ui_e2e.rs` with `#[path = "support/webdriver.rs"] mod webdriver;`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

/// The `chromedriver` to run: `$CHROMEDRIVER`, or `chromedriver` on the PATH.
pub fn chromedriver() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMEDRIVER") {
        return PathBuf::from(path);
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("chromedriver"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the dashboard tests need chromedriver and found none on the PATH: \
                 apt-get install chromium-driver (scripts/test.sh does), or set CHROMEDRIVER"
            )
        })
}

/// A chromedriver process with one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on `port` and a headless Chromium session in it.
    pub fn start(port: u16) -> Browser {
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // As for chromium itself: its own process group (see ui_e2e.rs).
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver: {e}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while runtime
            .block_on(async { http.get(format!("{base}/status")).send().await })
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = json!([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            format!("--user-data-dir={}", profile.path().display()),
        ]);
        let mut browser = Browser {
            driver,
            runtime,
            http,
            session: base,
            _profile: profile,
        };
        let created = browser.call(
            reqwest::Method::POST,
            "/session",
            json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": args}}}}),
        );
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        browser.session = format!("{}/session/{id}", browser.session);
        browser
    }

    /// One WebDriver command; its `value`.
    fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session);
        let answer: Value = self
            .runtime
            .block_on(async {
                let mut request = self.http.request(method, &url);
                if !body.is_null() {
                    request = request.json(&body);
                }
                request.send().await?.json().await
            })
            .unwrap_or_else(|e| panic!("webdriver {url}: {e}"));
        let value = answer["value"].clone();
        assert!(value.get("error").is_none(), "webdriver {url}: {value}");
        value
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }));
    }

    /// The value of `script` (a function body) run in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
    }

    /// Evaluates `script` every 100 ms until `done` holds for its value
    /// (returned), or panics after `limit` saying `why`.
    pub fn wait_until(
        &self,
        script: &str,
        mut done: impl FnMut(&Value) -> bool,
        limit: Duration,
        why: &str,
    ) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.eval(script);
            if done(&value) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "{why}: still {value} after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let encoded = self.call(reqwest::Method::GET, "/screenshot", Value::Null);
        std::fs::write(path, base64_decode(encoded.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = self.session.clone();
        let http = self.http.clone();
        // Inside the runtime: the timeout's timer needs its reactor.
        let _ = self.runtime.block_on(async move {
            http.delete(&url)
                .timeout(Duration::from_secs(10))
                .send()
                .await
        });
        // chromedriver and the browsers it started share its process group
        // (see `start`): end them all, whatever the session did.
        let _ = killpg(Pid::from_raw(self.driver.id() as i32), Signal::SIGKILL);
        let _ = self.driver.wait();
    }
}

/// Standard base64 (what WebDriver screenshots are), padding ignored.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut bits = 0u32;
        for (i, &d) in chunk.iter().enumerate() {
            bits |= u32::from(d) << (18 - 6 * i);
        }
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}
