//! A fake Kubernetes API for the `k8s-job` executor: a tower service that
//! `kube::Client::new` talks to directly (no cluster, no socket), answering
//! each kind of request from a script of responses written in the API's own
//! wire format (`fixtures/k8s_job/`), and recording every request.
//!
//! Each [`Route`] has a queue of [`Answer`]s; the last one answers every
//! further request of that route (so polling sees a settled state). A
//! route with no answer gets a 404 `Status`, as for an unknown resource.
//! Fixtures name the Job `$JOB`, its uid `$UID`, its namespace `$NAMESPACE`
//! and the attempt `$KEY`; they are filled in when loaded.
// Not every test uses every part.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use serde_json::{json, Value};

/// The uid the fake API gives the Job it creates.
pub const UID: &str = "7d3e9a62-1b4f-4c8e-a0d5-6f2b8c1e4a90";

/// Which request a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Route {
    /// `POST .../jobs`
    CreateJob,
    /// `GET .../jobs/NAME`
    GetJob,
    /// `DELETE .../jobs/NAME`
    DeleteJob,
    /// `GET .../pods?labelSelector=...`
    ListPods,
    /// `GET .../pods?watch=true&...`
    WatchPods,
    /// `GET .../pods/NAME`
    GetPod,
    /// `GET .../pods/NAME/log?...`
    PodLog,
}

/// One response.
#[derive(Debug, Clone)]
pub enum Answer {
    /// This status and JSON body.
    Json(u16, String),
    /// The Job that was posted, as the API server returns it (uid,
    /// resourceVersion, creationTimestamp added).
    Created,
    /// A streamed body (a log, a watch) of these chunks, then its end.
    Stream(Vec<String>),
    /// These chunks, then nothing more, never ending (a worker still running).
    Endless(Vec<String>),
}

/// One request the fake answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// What it asked for.
    pub route: Option<Route>,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path.
    pub path: String,
    /// The query string.
    pub query: String,
    /// The body, as text.
    pub body: String,
}

/// What fills the fixtures' placeholders.
#[derive(Debug, Clone)]
pub struct Names {
    /// `$JOB`
    pub job: String,
    /// `$NAMESPACE`
    pub namespace: String,
    /// `$KEY`
    pub key: String,
}

impl Names {
    /// `text` with the placeholders filled in.
    pub fn fill(&self, text: &str) -> String {
        text.replace("$JOB", &self.job)
            .replace("$NAMESPACE", &self.namespace)
            .replace("$UID", UID)
            .replace("$KEY", &self.key)
    }

    /// A fixture file, filled in.
    pub fn fixture(&self, name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/k8s_job")
            .join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.fill(&text)
    }

    /// A fixture as a 200 answer.
    pub fn ok(&self, name: &str) -> Answer {
        Answer::Json(200, self.fixture(name))
    }

    /// A fixture as an answer with `status`.
    pub fn status(&self, code: u16, name: &str) -> Answer {
        Answer::Json(code, self.fixture(name))
    }

    /// A fixture's lines as a stream that ends.
    pub fn stream(&self, name: &str) -> Answer {
        Answer::Stream(lines(&self.fixture(name)))
    }

    /// A fixture's lines as a stream that never ends.
    pub fn endless(&self, name: &str) -> Answer {
        Answer::Endless(lines(&self.fixture(name)))
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(|l| format!("{l}\n")).collect()
}

type Script = BTreeMap<Route, VecDeque<Answer>>;

/// The fake API and the client that talks to it.
pub struct FakeApi {
    /// A client of the fake (default namespace `default`).
    pub client: kube::Client,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeApi {
    /// A fake answering each route from its queue in `script`.
    pub fn start(script: Vec<(Route, Vec<Answer>)>) -> FakeApi {
        let script: Script = script
            .into_iter()
            .map(|(route, answers)| (route, answers.into()))
            .collect();
        let script = Arc::new(Mutex::new(script));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        let service = tower::service_fn(move |request: Request<kube::client::Body>| {
            let script = script.clone();
            let recorded = recorded.clone();
            async move { Ok::<_, Infallible>(answer(request, &script, &recorded).await) }
        });
        FakeApi {
            client: kube::Client::new(service, "default"),
            requests,
        }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests of `route` so far.
    pub fn requests_to(&self, route: Route) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.route == Some(route))
            .collect()
    }

    /// The Job that was posted, as JSON.
    pub fn posted_job(&self) -> Value {
        let posts = self.requests_to(Route::CreateJob);
        let post = posts.first().expect("a Job was created");
        serde_json::from_str(&post.body).unwrap()
    }
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

async fn answer(
    request: Request<kube::client::Body>,
    script: &Mutex<Script>,
    recorded: &Mutex<Vec<Recorded>>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let route = route(&parts.method, parts.uri.path(), &query);
    recorded.lock().unwrap().push(Recorded {
        route,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query,
        body: body.clone(),
    });
    let next = route.and_then(|route| {
        let mut script = script.lock().unwrap();
        let queue = script.get_mut(&route)?;
        if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        }
    });
    match next {
        Some(Answer::Json(code, text)) => json_response(code, text),
        Some(Answer::Created) => {
            let mut job: Value = serde_json::from_str(&body).unwrap();
            job["metadata"]["uid"] = json!(UID);
            job["metadata"]["resourceVersion"] = json!("48200");
            job["metadata"]["generation"] = json!(1);
            job["metadata"]["creationTimestamp"] = json!("2025-03-01T10:00:00Z");
            job["status"] = json!({});
            json_response(201, job.to_string())
        }
        Some(Answer::Stream(chunks)) => stream_response(chunks, false),
        Some(Answer::Endless(chunks)) => stream_response(chunks, true),
        None => json_response(
            404,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "the server could not find the requested resource",
                   "reason": "NotFound", "code": 404})
            .to_string(),
        ),
    }
}

fn json_response(code: u16, text: String) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(text)).boxed_unsync())
        .unwrap()
}

fn stream_response(chunks: Vec<String>, endless: bool) -> Response<Body> {
    let chunks = futures::stream::iter(chunks)
        .map(|chunk| Ok::<_, Infallible>(Frame::data(Bytes::from(chunk))));
    let body = if endless {
        StreamBody::new(chunks.chain(futures::stream::pending())).boxed_unsync()
    } else {
        StreamBody::new(chunks).boxed_unsync()
    };
    Response::builder()
        .status(StatusCode::OK)
        .body(body)
        .unwrap()
}

/// Which route a request takes: `/apis/batch/v1/namespaces/NS/jobs[/NAME[/status]]`
/// and `/api/v1/namespaces/NS/pods[/NAME[/log]]`.
fn route(method: &Method, path: &str, query: &str) -> Option<Route> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let watch = query.split('&').any(|p| p == "watch=true");
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["apis", "batch", "v1", "namespaces", _, "jobs"]) => Some(Route::CreateJob),
        ("GET", ["apis", "batch", "v1", "namespaces", _, "jobs", _]) => Some(Route::GetJob),
        ("DELETE", ["apis", "batch", "v1", "namespaces", _, "jobs", _]) => Some(Route::DeleteJob),
        ("GET", ["api", "v1", "namespaces", _, "pods"]) if watch => Some(Route::WatchPods),
        ("GET", ["api", "v1", "namespaces", _, "pods"]) => Some(Route::ListPods),
        ("GET", ["api", "v1", "namespaces", _, "pods", _]) => Some(Route::GetPod),
        ("GET", ["api", "v1", "namespaces", _, "pods", _, "log"]) => Some(Route::PodLog),
        _ => None,
    }
}
