//! `/ui`: the web dashboard, a one-page app of plain HTML, CSS and
//! JavaScript embedded in the binary, so every voter serves it with no
//! files to deploy and nothing fetched from elsewhere.
//!
//! | request | answer |
//! |---|---|
//! | `GET /ui`, `GET /ui/` | the page (`assets/index.html`) |
//! | `GET /ui/app.js`, `GET /ui/style.css` | its script and style sheet |
//! | `GET /ui/<anything else>` | 404 |
//!
//! The routes are open: the files hold no data. The page asks for a token
//! and calls the authenticated APIs (`/v1/*`, `/graphql`) with it, so the
//! dashboard can show no more than its token may read.
//!
//! Every answer carries a strict Content-Security-Policy: scripts, styles
//! and connections only from this origin, no inline scripts or styles, no
//! frames, no forms posted anywhere. A token kept in the page's session
//! storage is then out of reach of injected markup, and the page cannot
//! send it to another host.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// What the browser may load and where the page may connect: this origin only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// The embedded files: name under `/ui/`, content type, body.
const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
];

/// The `/ui` routes (open; see the module doc).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/{file}", get(file))
}

async fn index() -> Response {
    serve("index.html")
}

async fn file(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    serve(&name)
}

/// One embedded file with its headers, or 404.
fn serve(name: &str) -> Response {
    let headers = |content_type: &'static str| {
        [
            (CONTENT_TYPE, content_type),
            (HeaderName::from_static("content-security-policy"), CSP),
            (HeaderName::from_static("x-content-type-options"), "nosniff"),
            (HeaderName::from_static("referrer-policy"), "no-referrer"),
            // The files change with the binary; a browser should ask again.
            (CACHE_CONTROL, "no-cache"),
        ]
    };
    match FILES.iter().find(|(file, _, _)| *file == name) {
        Some((_, content_type, body)) => (headers(content_type), *body).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            headers("text/plain; charset=utf-8"),
            "no such file\n",
        )
            .into_response(),
    }
}
