//! Applying the run, lease and node commands to the state.

use crate::command::{Command, Outcome, Rejection, Response};
use crate::plan::{MasterRole, TaskId};
use crate::run::{Run, RunId, TaskState};
use crate::state::leases::Fence;
use crate::state::nodes::NodeStatus;

use super::State;

impl State {
    pub(super) fn execute_run_command(&mut self, command: &Command) -> Outcome {
        let now = self.time;
        match command {
            Command::SubmitRun { run, spec } => {
                if self.runs.contains_key(run) {
                    return Err(Rejection::RunExists(run.clone()));
                }
                spec.validate().map_err(Rejection::InvalidPlan)?;
                self.runs
                    .insert(run.clone(), Run::new(run.clone(), spec.clone(), now));
            }
            Command::CancelRun { run, reason } => self.run_mut(run)?.cancel(reason, now)?,
            Command::ApproveTask { run, task } => self.run_mut(run)?.approve(task)?,
            Command::ResolveEscalation {
                run,
                escalation,
                resolution,
            } => self
                .run_mut(run)?
                .resolve(escalation, resolution.clone(), now)?,
            Command::RegisterNode {
                name,
                labels,
                capacity,
                voter,
            } => self
                .nodes
                .register(name, labels.clone(), *capacity, *voter, now),
            Command::Heartbeat { name } => {
                if !self.nodes.heartbeat(name, now) {
                    return Err(Rejection::UnknownNode(name.clone()));
                }
            }
            Command::AcquireLease {
                role,
                holder,
                ttl_ms,
            } => {
                let lease = self.leases.acquire(*role, *holder, *ttl_ms, now)?;
                return Ok(Response::Lease(lease));
            }
            Command::ReleaseLease { fence, holder } => self.leases.release(*fence, *holder, now)?,
            Command::AssignTask {
                run,
                task,
                attempt,
                node,
                fence,
            } => {
                self.check_task_fence(run, task, *fence)?;
                self.check_placement(run, task, node)?;
                self.run_mut(run)?.assign(task, *attempt, node, now)?;
            }
            Command::ReportAttempt {
                run,
                task,
                attempt,
                report,
            } => self
                .run_mut(run)?
                .report(task, *attempt, report.clone(), now)?,
            Command::FenceNode {
                node,
                timeout_ms,
                fence,
            } => {
                self.check_coordinator(*fence)?;
                if !self.nodes.is_silent(node, *timeout_ms, now) {
                    return Err(Rejection::NodeNotSilent(node.clone()));
                }
                self.nodes.mark_lost(node);
                let attempts = self
                    .runs
                    .values_mut()
                    .filter(|r| !r.status.is_terminal())
                    .map(|r| r.fence_node(node, now))
                    .sum();
                return Ok(Response::Fenced { attempts });
            }
            Command::ExpireAttempt {
                run,
                task,
                attempt,
                fence,
            } => {
                self.check_task_fence(run, task, *fence)?;
                self.run_mut(run)?.expire_attempt(task, *attempt, now)?;
            }
            Command::ExpireRun { run, fence } => {
                self.check_coordinator(*fence)?;
                self.run_mut(run)?.expire(now)?;
            }
            Command::BudgetShortfall { run, task, fence } => {
                self.check_task_fence(run, task, *fence)?;
                self.run_mut(run)?.budget_shortfall(task, now)?;
            }
            Command::Reallocate {
                run,
                from,
                to,
                amount,
                fence,
            } => {
                self.check_coordinator(*fence)?;
                let run = self.run_mut(run)?;
                if run.status.is_terminal() {
                    return Err(Rejection::Run(crate::run::RunError::RunEnded(run.status)));
                }
                run.ledger
                    .reallocate(*from, *to, *amount)
                    .map_err(|e| Rejection::Run(e.into()))?;
            }
            Command::Noop
            | Command::Audit { .. }
            | Command::Put { .. }
            | Command::Delete { .. }
            | Command::Catalog(_)
            | Command::Pool(_) => {
                unreachable!("handled by State::execute")
            }
        }
        Ok(Response::Done)
    }

    fn run_mut(&mut self, run: &RunId) -> Result<&mut Run, Rejection> {
        self.runs
            .get_mut(run)
            .ok_or_else(|| Rejection::NoRun(run.clone()))
    }

    fn check_coordinator(&self, fence: Fence) -> Result<(), Rejection> {
        if fence.role != MasterRole::Coordinator {
            return Err(Rejection::Lease(crate::state::leases::LeaseError::Stale {
                role: MasterRole::Coordinator,
                given: 0,
                current: 0,
            }));
        }
        Ok(self.leases.check(fence, self.time)?)
    }

    /// The command must come from the current holder of the task's master role.
    fn check_task_fence(&self, run: &RunId, task: &TaskId, fence: Fence) -> Result<(), Rejection> {
        let owner = self
            .runs
            .get(run)
            .ok_or_else(|| Rejection::NoRun(run.clone()))?
            .tasks
            .get(task)
            .map(|t| t.spec.master)
            .ok_or_else(|| Rejection::Run(crate::run::RunError::NoTask(task.clone())))?;
        if owner != fence.role {
            return Err(Rejection::WrongRole {
                task: task.clone(),
                owner,
                given: fence.role,
            });
        }
        Ok(self.leases.check(fence, self.time)?)
    }

    fn check_placement(&self, run: &RunId, task: &TaskId, node: &str) -> Result<(), Rejection> {
        let refuse = |why: String| Rejection::Placement {
            node: node.to_string(),
            why,
        };
        let record = self
            .nodes
            .by_name
            .get(node)
            .ok_or_else(|| refuse("not registered".into()))?;
        if record.status != NodeStatus::Alive {
            return Err(refuse("it is lost".into()));
        }
        let placement = &self.runs[run].tasks[task].spec.placement;
        if placement
            .node
            .as_deref()
            .is_some_and(|pinned| pinned != node)
        {
            return Err(refuse(format!(
                "the task is pinned to {:?}",
                placement.node
            )));
        }
        if let Some((k, v)) = placement
            .labels
            .iter()
            .find(|(k, v)| record.labels.get(*k) != Some(*v))
        {
            return Err(refuse(format!("label {k}={v} does not match")));
        }
        let busy = self.running_on(node);
        if busy >= record.capacity as usize {
            return Err(refuse(format!("it runs {busy} attempts, its capacity")));
        }
        Ok(())
    }

    /// Live attempts on `node` across all runs.
    pub fn running_on(&self, node: &str) -> usize {
        self.runs
            .values()
            .flat_map(|r| r.tasks.values())
            .filter(|t| t.state == TaskState::Running)
            .filter(|t| t.live_attempt().is_some_and(|a| a.node == node))
            .count()
    }
}
