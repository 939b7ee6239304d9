//! The `k8s-job` executor against a fake Kubernetes API (`k8s_job/api.rs`)
//! answering with responses in the API's wire format: a Job that succeeds
//! and its log as protocol lines, a Job that fails and why, a log that
//! breaks off and is read on, an attempt dropped or asked to wrap up (the
//! Job is deleted), a pod that cannot start, and API errors. One test needs
//! a real cluster and is ignored unless asked for.

#[path = "k8s_job/api.rs"]
mod api;
#[path = "k8s_job/runs.rs"]
mod runs;
#[path = "k8s_job/stops.rs"]
mod stops;
#[path = "k8s_job/support.rs"]
mod support;
