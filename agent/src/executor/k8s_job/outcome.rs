//! How the Job ended, read from its status conditions once its pod's log
//! is over, with the container's own exit (code, `OOMKilled`, ...) added to
//! a failure so the attempt's error says what happened.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;

use super::manifest::CONTAINER;
use super::{api_error, is_not_found};

/// Pause between looks at the Job's status: the controller records the
/// pod's end shortly after the log closes.
const POLL: Duration = Duration::from_secs(1);

/// `Some(Ok)` when `job` succeeded, `Some(Err(why))` when it failed, `None`
/// while it has not ended. `SuccessCriteriaMet` and `FailureTarget` (set
/// before `Complete` and `Failed` by recent versions) are final already.
pub fn ended(job: &Job) -> Option<Result<(), String>> {
    let name = job.metadata.name.as_deref().unwrap_or("(unnamed)");
    let conditions = job
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten());
    for condition in conditions.filter(|c| c.status == "True") {
        match condition.type_.as_str() {
            "Complete" | "SuccessCriteriaMet" => return Some(Ok(())),
            "Failed" | "FailureTarget" => {
                let reason = condition.reason.as_deref().unwrap_or("no reason given");
                let why = match condition.message.as_deref() {
                    Some(message) if !message.is_empty() => format!("{reason} ({message})"),
                    _ => reason.to_string(),
                };
                return Some(Err(format!("Job {name} failed: {why}")));
            }
            _ => {}
        }
    }
    None
}

/// How the worker's container ended, if it did: `exited with code 3
/// (Error)`, `was killed: OOMKilled`, with the kubelet's message.
pub fn container_exit(pod: &Pod) -> Option<String> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let container = statuses.iter().find(|c| c.name == CONTAINER)?;
    let terminated = container.state.as_ref()?.terminated.as_ref()?;
    let mut said = format!(
        "container {CONTAINER} exited with code {}",
        terminated.exit_code
    );
    if let Some(reason) = &terminated.reason {
        said.push_str(&format!(" ({reason})"));
    }
    if let Some(message) = terminated.message.as_deref().filter(|m| !m.is_empty()) {
        said.push_str(&format!(": {}", message.trim()));
    }
    Some(said)
}

/// Waits for Job `name` to end: `Ok(verdict)` once it did (`Ok(())` if it
/// succeeded, else why not), `Err` when that cannot be known.
pub async fn wait(
    jobs: &Api<Job>,
    name: &str,
    pods: &Api<Pod>,
    pod: &str,
) -> Result<Result<(), String>, String> {
    loop {
        // The Job itself, not its `status` subresource: that would need
        // one more permission for the same answer.
        let job = match jobs.get(name).await {
            Ok(job) => job,
            Err(e) if is_not_found(&e) => {
                return Err(format!("Job {name} was deleted before it finished"))
            }
            Err(e) => return Err(api_error(&format!("reading the status of Job {name}"), e)),
        };
        match ended(&job) {
            Some(Ok(())) => return Ok(Ok(())),
            Some(Err(why)) => {
                // The container's exit is the useful half; without the pod
                // (already gone) the Job's reason still stands.
                let exit = pods.get(pod).await.ok().as_ref().and_then(container_exit);
                return Ok(Err(match exit {
                    Some(exit) => format!("{why}; {exit}"),
                    None => why,
                }));
            }
            None => tokio::time::sleep(POLL).await,
        }
    }
}
