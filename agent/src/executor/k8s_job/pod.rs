//! Waiting for the Job's pod to start, by listing and then watching the
//! pods the Job controller made for it (selected by the Job's uid, so a pod
//! of an older Job with the same name is never mistaken for it).
//!
//! A pod that cannot start for a reason that will not fix itself — an image
//! that cannot be pulled, a Secret or key that is missing, a non-root rule
//! the image breaks — fails the attempt at once with the kubelet's reason,
//! rather than waiting for the time limit. Other waits (scheduling, pulling)
//! are reported as log lines, each once.

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::Api;

use super::api_error;
use crate::executor::Events;

/// Seconds one watch request lasts before it is made again (below the
/// client's read timeout, so a quiet watch is not mistaken for a dead one).
const WATCH_SECONDS: u32 = 50;
/// Pause before listing again after a watch broke, so an API server that
/// keeps failing watches is not asked in a tight loop.
const RELIST_PAUSE: Duration = Duration::from_secs(1);

/// Waiting reasons of a container that mean it will not start by itself.
const CANNOT_START: &[&str] = &[
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// Where a pod is on its way to running the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// The container runs or ran: its log can be read.
    Started,
    /// Not yet, with the reason when the pod gives one.
    Waiting(Option<String>),
    /// It will not start: why.
    CannotStart(String),
}

/// What `pod`'s status says.
pub fn state(pod: &Pod) -> PodState {
    let name = pod.metadata.name.as_deref().unwrap_or("(unnamed)");
    let Some(status) = &pod.status else {
        return PodState::Waiting(None);
    };
    if matches!(
        status.phase.as_deref(),
        Some("Running" | "Succeeded" | "Failed")
    ) {
        return PodState::Started;
    }
    let containers = status.init_container_statuses.iter().flatten();
    for container in containers.chain(status.container_statuses.iter().flatten()) {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or("waiting");
        let said = match &waiting.message {
            Some(message) => format!("{reason}: {message}"),
            None => reason.to_string(),
        };
        if CANNOT_START.contains(&reason) {
            return PodState::CannotStart(format!("pod {name} cannot start: {said}"));
        }
        return PodState::Waiting(Some(format!("pod {name}: {said}")));
    }
    let unscheduled = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False");
    PodState::Waiting(unscheduled.map(|c| {
        format!(
            "pod {name} not scheduled yet: {}",
            c.message
                .as_deref()
                .or(c.reason.as_deref())
                .unwrap_or("no reason given")
        )
    }))
}

/// Waits until a pod selected by `selector` has started; its name.
pub async fn started(pods: &Api<Pod>, selector: &str, events: &Events) -> Result<String, String> {
    let mut last_note = None;
    let mut judge = |pod: &Pod| -> Option<Result<String, String>> {
        match state(pod) {
            PodState::Started => Some(Ok(pod.metadata.name.clone().unwrap_or_default())),
            PodState::CannotStart(why) => Some(Err(why)),
            PodState::Waiting(note) => {
                if note.is_some() && note != last_note {
                    events.log(note.clone().unwrap_or_default());
                    last_note = note;
                }
                None
            }
        }
    };
    loop {
        let listed = pods
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|e| api_error("listing the Job's pods", e))?;
        if let Some(decided) = listed.items.iter().find_map(&mut judge) {
            return decided;
        }
        let version = listed.metadata.resource_version.unwrap_or_default();
        let params = WatchParams::default()
            .labels(selector)
            .timeout(WATCH_SECONDS);
        let stream = pods
            .watch(&params, &version)
            .await
            .map_err(|e| api_error("watching the Job's pods", e))?;
        futures::pin_mut!(stream);
        // Until the watch ends (its timeout, or an error such as an
        // expired resource version): then list again.
        let broke = loop {
            match stream.try_next().await {
                Ok(Some(WatchEvent::Added(pod) | WatchEvent::Modified(pod))) => {
                    if let Some(decided) = judge(&pod) {
                        return decided;
                    }
                }
                Ok(Some(WatchEvent::Deleted(_) | WatchEvent::Bookmark(_))) => {}
                Ok(None) => break false,
                Ok(Some(WatchEvent::Error(_))) | Err(_) => break true,
            }
        };
        if broke {
            tokio::time::sleep(RELIST_PAUSE).await;
        }
    }
}
