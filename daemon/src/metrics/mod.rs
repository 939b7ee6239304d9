//! Prometheus metrics: one registry per daemon, served at `GET /metrics`
//! without a token (like `/healthz`; it carries counts, never secrets or
//! ids beyond active run ids).
//!
//! A daemon assembles its registry once, at start, from the components it
//! runs, then freezes it for serving:
//!
//! ```text
//!  Metrics::default()                  cortex_build_info
//!    ├─ VoterMetrics::register(..)     raft series, apply latency, GraphQL latency,
//!    │                                 cluster series (leader only; see `cluster`)
//!    ├─ WorkerMetrics::register(..)    attempts this node ran (cortex-agent)
//!    ├─ <component>::register(..)      anything else, through `Metrics::registry`
//!    └─ freeze() -> Exposition ──────> GET /metrics
//! ```
//!
//! Components register full metric names (no prefixed sub-registry): the
//! names are a contract with the dashboards and alert rules (see
//! `docs/metrics.md`), and some are not ours to prefix (`gen_ai_*`).

mod census;
mod cluster;
mod family;
mod node;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub use node::{time_request, VoterMetrics};

/// The OpenMetrics text format's content type, served when asked for.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A daemon's registry while its components add their families.
pub struct Metrics {
    registry: Registry,
}

impl Default for Metrics {
    /// A registry holding `cortex_build_info{version}`.
    fn default() -> Metrics {
        let mut registry = Registry::default();
        let build = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        build
            .get_or_create(&[("version", env!("CARGO_PKG_VERSION"))])
            .set(1);
        registry.register(
            "cortex_build_info",
            "Always 1; the version label names the running build",
            build,
        );
        Metrics { registry }
    }
}

impl Metrics {
    /// Where a component registers its families (full names, see the module
    /// doc). Only before [`Metrics::freeze`].
    pub fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Ends registration; what is registered by now is what is served.
    pub fn freeze(self) -> Exposition {
        Exposition {
            registry: Arc::new(self.registry),
        }
    }
}

/// A frozen registry, rendered on every scrape.
#[derive(Clone)]
pub struct Exposition {
    registry: Arc<Registry>,
}

impl Exposition {
    /// `GET /metrics`, open to anyone who can reach the port.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/metrics", get(scrape))
            .with_state(self.clone())
    }

    /// The registry in the classic Prometheus text format (0.0.4), or in
    /// OpenMetrics text when `openmetrics`.
    fn render(&self, openmetrics: bool) -> Result<(&'static str, String), std::fmt::Error> {
        let mut body = String::new();
        if openmetrics {
            text::encode(&mut body, &self.registry)?;
            Ok((OPENMETRICS, body))
        } else {
            prometheus_text::encode(&mut body, &self.registry)?;
            Ok((prometheus_text::CONTENT_TYPE, body))
        }
    }
}

/// Serves the exposition in the format the scraper prefers.
async fn scrape(State(exposition): State<Exposition>, headers: HeaderMap) -> Response {
    match exposition.render(wants_openmetrics(&headers)) {
        Ok((content_type, body)) => ([(CONTENT_TYPE, content_type)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Whether the scraper accepts OpenMetrics text: Prometheus asks for it
/// first; `curl` and older scrapers get the classic format.
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/openmetrics-text"))
}
