//! The `k8s-job` executor: runs an attempt as a Kubernetes Job and reads
//! the worker's pod log as the worker line protocol.
//!
//! * [`manifest`] builds the Job (pure: name, labels, limits, hardening).
//! * [`pod`] waits for its pod to start, or fails fast when it cannot.
//! * [`logs`] follows the pod's log through the `process` executor's reader.
//! * [`outcome`] reads how the Job ended.
//!
//! It is off unless the daemon was given a namespace for Jobs
//! (`--k8s-jobs-namespace`): a daemon without one fails such attempts with a
//! message naming the flag ([`not_enabled`]).
//!
//! Like a process group, the Job lives only as long as the attempt wants
//! it. Dropping the future — the time limit, cancellation, the end of the
//! grace period at the token cap — deletes the Job (propagation
//! `Background`, so its pod goes too) from a spawned task, since a drop
//! cannot wait; if the daemon itself dies, the Job's `activeDeadlineSeconds`
//! stops it. Asked to wrap up, the executor deletes the Job at once, which
//! gives the pod SIGTERM and its grace period to print a partial result,
//! and reads the log to its end. A Job that ended is left to its
//! `ttlSecondsAfterFinished`.

pub mod logs;
pub mod manifest;
pub mod outcome;
pub mod pod;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use cortex_consensus::plan::{K8sJobSpec, KubeTarget};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};

use super::{Context, Events, WrapUp};
use crate::builtin::kube::connect;

/// Pause between looks at a Job that is being deleted, before it is made
/// again.
const GONE_POLL: Duration = Duration::from_secs(1);

/// Where this node runs `k8s-job` attempts: a Kubernetes API and the
/// namespace Jobs go to when the plan names none.
#[derive(Clone)]
pub struct JobSite {
    namespace: String,
    connection: Connection,
}

#[derive(Clone)]
enum Connection {
    /// The daemon's own credentials, read at each attempt.
    Environment,
    /// A client made elsewhere (tests, embedders).
    Client(Client),
}

impl JobSite {
    /// Jobs in `namespace` by default, through the daemon's credentials:
    /// its service account in a pod, else `$KUBECONFIG` or `~/.kube/config`.
    pub fn from_environment(namespace: impl Into<String>) -> JobSite {
        JobSite {
            namespace: namespace.into(),
            connection: Connection::Environment,
        }
    }

    /// Jobs in `namespace` by default, through `client`.
    pub fn with_client(client: Client, namespace: impl Into<String>) -> JobSite {
        JobSite {
            namespace: namespace.into(),
            connection: Connection::Client(client),
        }
    }

    /// The namespace of Jobs whose plan names none.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    async fn client(&self) -> Result<Client, String> {
        match &self.connection {
            Connection::Environment => connect::client(&KubeTarget::default()).await,
            Connection::Client(client) => Ok(client.clone()),
        }
    }
}

impl fmt::Debug for JobSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobSite")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Why a `k8s-job` attempt cannot run on `node`, which has no [`JobSite`].
pub fn not_enabled(node: &str) -> String {
    format!(
        "the k8s-job executor is not enabled on node {node}: start its daemon with \
         --k8s-jobs-namespace NAMESPACE (env CORTEX_K8S_JOBS_NAMESPACE; Helm chart: \
         executors.k8sJob.enabled=true)"
    )
}

/// Runs `spec` as a Job at `site` until it ends: `Ok` if it succeeded.
pub async fn run(
    spec: &K8sJobSpec,
    context: &Context,
    site: &JobSite,
    events: &Events,
    mut wrap_up: WrapUp,
) -> Result<(), String> {
    let client = site.client().await?;
    let namespace = spec.namespace.as_deref().unwrap_or(&site.namespace);
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let job = manifest::job(spec, context, namespace);
    let name = manifest::job_name(context);
    let key = manifest::attempt_key(context);
    // Armed before the request: if the attempt lets go while it is on its
    // way, the Job may exist without anyone to read it.
    let mut cleanup = Cleanup {
        jobs: jobs.clone(),
        name: name.clone(),
        armed: true,
    };
    let uid = match create(&jobs, &job, &key, namespace, events).await {
        Ok(uid) => uid,
        Err(NotCreated::NotOurs(why)) => {
            cleanup.armed = false;
            return Err(why);
        }
        Err(NotCreated::Failed(why)) => return Err(why),
    };
    // The pods the Job controller made for this Job, not for an older one
    // of the same name.
    let selector = format!("batch.kubernetes.io/controller-uid={uid}");
    let work = async {
        let pod = pod::started(&pods, &selector, events).await?;
        events.log(format!("pod {pod} started; following its log"));
        logs::follow(&pods, &pod, spec.output, events).await?;
        outcome::wait(&jobs, &name, &pods, &pod).await
    };
    tokio::pin!(work);
    let mut wrapping_up = false;
    let ended = loop {
        tokio::select! {
            ended = &mut work => break ended,
            Ok(()) = async { wrap_up.wait_for(|w| *w).await.map(|_| ()) }, if !wrapping_up => {
                wrapping_up = true;
                events.log(format!("asked to wrap up: deleting Job {name} so its worker gets SIGTERM"));
                if let Err(problem) = delete(&jobs, &name).await {
                    events.log(problem);
                }
            }
        }
    };
    match ended {
        // The Job ended by itself: it stays for its TTL, to be looked at.
        Ok(verdict) => {
            cleanup.armed = false;
            verdict
        }
        // It may still run (or wait for an image): `cleanup` deletes it.
        Err(problem) => Err(problem),
    }
}

/// Why there is no Job to follow.
enum NotCreated {
    /// A Job of that name exists that this attempt did not make: never to
    /// be deleted here.
    NotOurs(String),
    /// The API refused or failed (the request may still have made it).
    Failed(String),
}

/// Creates the Job, or takes over the one this attempt made before (its
/// daemon restarted while the Job ran); the Job's uid.
async fn create(
    jobs: &Api<Job>,
    job: &Job,
    key: &str,
    namespace: &str,
    events: &Events,
) -> Result<String, NotCreated> {
    let name = job.metadata.name.as_deref().unwrap_or_default();
    let creating = format!("creating Job {name} in namespace {namespace}");
    let failed = |e| NotCreated::Failed(api_error(&creating, e));
    loop {
        let existing = match jobs.create(&PostParams::default(), job).await {
            Ok(created) => {
                events.log(format!("created Job {name} in namespace {namespace}"));
                return uid(&created).map_err(NotCreated::Failed);
            }
            Err(e) if is_conflict(&e) => match jobs.get(name).await {
                Ok(existing) => existing,
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(failed(e)),
            },
            Err(e) => return Err(failed(e)),
        };
        let made_for = existing
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(manifest::ATTEMPT_ANNOTATION));
        if made_for.map(String::as_str) != Some(key) {
            return Err(NotCreated::NotOurs(format!(
                "{creating}: a Job of that name exists that Cortex did not make for attempt {key}"
            )));
        }
        if existing.metadata.deletion_timestamp.is_none() {
            events.log(format!(
                "Job {name} in namespace {namespace} exists for this attempt already; following it"
            ));
            return uid(&existing).map_err(NotCreated::Failed);
        }
        // The attempt's previous Job is on its way out: make a new one then.
        tokio::time::sleep(GONE_POLL).await;
    }
}

fn uid(job: &Job) -> Result<String, String> {
    job.metadata
        .uid
        .clone()
        .ok_or_else(|| "the Kubernetes API returned the Job without a uid".to_string())
}

/// Deletes the Job when dropped, unless it ended by itself: an attempt
/// that lets go of its work must not leave a worker running.
struct Cleanup {
    jobs: Api<Job>,
    name: String,
    /// Whether dropping it deletes the Job.
    armed: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let jobs = self.jobs.clone();
        let name = std::mem::take(&mut self.name);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(problem) = delete(&jobs, &name).await {
                        tracing::warn!(%problem, "Job of a stopped attempt not deleted; its activeDeadlineSeconds will stop it");
                    }
                });
            }
            Err(_) => {
                tracing::warn!(job = %name, "no runtime to delete the Job of a stopped attempt; its activeDeadlineSeconds will stop it");
            }
        }
    }
}

/// Deletes Job `name` and, in the background, its pod.
async fn delete(jobs: &Api<Job>, name: &str) -> Result<(), String> {
    match jobs.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(api_error(&format!("deleting Job {name}"), e)),
    }
}

/// `doing` failed with `error`, in words, with a hint for the usual cause.
pub(crate) fn api_error(doing: &str, error: kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            let hint = match status.code {
                401 | 403 => {
                    "; the daemon's service account needs the k8s-job permissions in this \
                     namespace (Helm chart: executors.k8sJob.enabled and executors.k8sJob.namespace)"
                }
                _ => "",
            };
            let mut answer = format!("{doing}: the Kubernetes API answered");
            match status.code {
                0 => answer.push_str(" with an error"),
                code => answer.push_str(&format!(" {code}")),
            }
            if !status.reason.is_empty() {
                answer.push_str(&format!(" {}", status.reason));
            }
            if !status.message.is_empty() {
                answer.push_str(&format!(": {}", status.message));
            }
            answer + hint
        }
        other => format!("{doing}: {other}"),
    }
}

fn api_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    api_code(error) == Some(404)
}

fn is_conflict(error: &kube::Error) -> bool {
    api_code(error) == Some(409)
}
