//! Transitions driven by the cluster rather than a worker: node loss,
//! timeouts, deadlines, cancellation, approvals, budget shortfalls,
//! escalation resolutions, and the propagation that follows each of them.

use super::{EscalationKind, Resolution, Run, RunError, RunStatus};
use crate::command::ClusterTime;
use crate::plan::{DependencyPolicy, MasterRole, Priority, TaskId};
use crate::run::task::TaskState;

impl Run {
    /// Fences every live attempt on `node`: releases its reservation and
    /// retries or ends its task. Returns how many attempts were fenced.
    pub fn fence_node(&mut self, node: &str, now: ClusterTime) -> usize {
        let on_node: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.live_attempt().is_some_and(|a| a.node == node))
            .map(|(id, _)| id.clone())
            .collect();
        for task in &on_node {
            self.fence(task, &format!("node {node} lost"), now);
            self.retry_or_end(task, TaskState::Failed, format!("node {node} lost"), now);
        }
        self.settle_dependents(now);
        on_node.len()
    }

    /// Ends attempt `attempt` of `task` if it outlived its time limit (the
    /// executor normally reports this itself; this catches lost executors).
    pub fn expire_attempt(
        &mut self,
        task: &TaskId,
        attempt: u32,
        now: ClusterTime,
    ) -> Result<(), RunError> {
        self.ensure_running()?;
        self.live(task, attempt)?;
        let t = &self.tasks[task];
        let started = t.live_attempt().expect("live").started_at;
        let deadline = started.plus_millis(t.spec.timeout_ms);
        if now < deadline {
            return Err(RunError::TooEarly(format!(
                "attempt {attempt} of {task} has until {}",
                deadline.0
            )));
        }
        self.fence(task, "time limit passed", now);
        self.retry_or_end(task, TaskState::TimedOut, "attempt timed out".into(), now);
        self.settle_dependents(now);
        Ok(())
    }

    /// Cancels the run: every unfinished task ends `cancelled`.
    pub fn cancel(&mut self, reason: &str, now: ClusterTime) -> Result<(), RunError> {
        self.ensure_running()?;
        self.end_all(TaskState::Cancelled, reason, now);
        self.status = RunStatus::Cancelled;
        self.reason = Some(reason.to_string());
        self.finished_at = Some(now);
        Ok(())
    }

    /// Ends the run at its deadline: running tasks `timed_out`, the rest `cancelled`.
    pub fn expire(&mut self, now: ClusterTime) -> Result<(), RunError> {
        self.ensure_running()?;
        match self.deadline {
            Some(deadline) if now >= deadline => {}
            _ => {
                return Err(RunError::TooEarly(
                    "the run's deadline has not passed".into(),
                ))
            }
        }
        let running: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.state == TaskState::Running)
            .map(|(id, _)| id.clone())
            .collect();
        for task in &running {
            self.fence(task, "run deadline passed", now);
            self.finish(
                task,
                TaskState::TimedOut,
                Some("run deadline passed".into()),
                now,
            );
        }
        self.end_all(TaskState::Cancelled, "run deadline passed", now);
        self.status = RunStatus::Failed;
        self.reason = Some("run deadline passed".into());
        self.finished_at = Some(now);
        Ok(())
    }

    fn end_all(&mut self, state: TaskState, reason: &str, now: ClusterTime) {
        let open: Vec<TaskId> = self
            .tasks
            .iter()
            .filter(|(_, t)| !t.state.is_terminal())
            .map(|(id, _)| id.clone())
            .collect();
        for task in &open {
            self.fence(task, reason, now);
            self.finish(task, state, Some(reason.to_string()), now);
        }
    }

    /// Approves a task that waits for approval.
    pub fn approve(&mut self, task: &TaskId) -> Result<(), RunError> {
        self.ensure_running()?;
        let state = self.task_state(task)?;
        let t = self.tasks.get_mut(task).expect("exists");
        if !t.spec.approval_required || state != TaskState::Pending || t.approved {
            return Err(RunError::WrongState {
                task: task.clone(),
                state,
                why: "only a pending task that requires approval can be approved".into(),
            });
        }
        t.approved = true;
        Ok(())
    }

    /// Handles a task whose master cannot cover its budget: a critical task
    /// is blocked and escalated; another ends `budget_exceeded` once nothing
    /// the master holds can free budget up. Refused while it still could.
    pub fn budget_shortfall(&mut self, task: &TaskId, now: ClusterTime) -> Result<(), RunError> {
        self.ensure_running()?;
        if let Some(why) = self.blocker(task, now) {
            return Err(RunError::NotReady {
                task: task.clone(),
                why,
            });
        }
        let t = &self.tasks[task];
        let account = &self.ledger.accounts[&t.spec.master];
        let (needed, available) = (t.spec.budget, account.available());
        if needed <= available {
            return Err(RunError::TooEarly(format!(
                "master can cover {needed} tokens now"
            )));
        }
        if t.spec.priority == Priority::Critical {
            let t = self.tasks.get_mut(task).expect("exists");
            t.state = TaskState::Blocked;
            t.reason = Some(format!("needs {needed} tokens, master has {available}"));
            self.escalate(
                task,
                EscalationKind::BudgetExhausted { needed, available },
                now,
            );
        } else if account.reserved == 0 && available + self.spare_budget(t.spec.master) < needed {
            let reason = format!("needs {needed} tokens, master has {available} and nothing held");
            self.finish(task, TaskState::BudgetExceeded, Some(reason), now);
            self.settle_dependents(now);
        } else {
            return Err(RunError::TooEarly(
                "running tasks of this master may free budget".into(),
            ));
        }
        Ok(())
    }

    /// Budget that masters other than `except` no longer need: masters whose
    /// tasks have all ended, with what they have left. The coordinator moves
    /// it to masters that need it (the seed's lesson: a master that finished
    /// early should not sit on its pool).
    pub fn spare_budget_by_master(&self, except: MasterRole) -> Vec<(MasterRole, u64)> {
        self.ledger
            .accounts
            .iter()
            .filter(|(role, _)| **role != except)
            .filter(|(role, _)| {
                self.tasks
                    .values()
                    .filter(|t| t.spec.master == **role)
                    .all(|t| t.state.is_terminal())
            })
            .map(|(role, account)| (*role, account.available()))
            .filter(|(_, available)| *available > 0)
            .collect()
    }

    fn spare_budget(&self, except: MasterRole) -> u64 {
        self.spare_budget_by_master(except)
            .iter()
            .map(|(_, a)| a)
            .sum()
    }

    /// Resolves an open escalation of this run.
    pub fn resolve(
        &mut self,
        id: &str,
        resolution: Resolution,
        now: ClusterTime,
    ) -> Result<(), RunError> {
        self.ensure_running()?;
        let Some(index) = self
            .escalations
            .iter()
            .position(|e| e.id == id && e.resolution.is_none())
        else {
            return Err(RunError::TooEarly(format!("no open escalation {id}")));
        };
        let task = self.escalations[index].task.clone();
        let master = self.tasks[&task].spec.master;
        match &resolution {
            Resolution::GrantReserve { amount } => self.ledger.grant(master, *amount)?,
            Resolution::Retry => self.tasks.get_mut(&task).expect("exists").extra_retries += 1,
            Resolution::Cancel => {}
        }
        let t = self.tasks.get_mut(&task).expect("exists");
        if resolution == Resolution::Cancel {
            self.finish(
                &task,
                TaskState::Cancelled,
                Some(format!("escalation {id} cancelled")),
                now,
            );
        } else {
            t.state = TaskState::Pending;
            t.ready_at = now;
            t.reason = Some(format!("escalation {id} resolved"));
        }
        let escalation = &mut self.escalations[index];
        escalation.resolution = Some(resolution);
        escalation.resolved_at = Some(now);
        self.settle_dependents(now);
        Ok(())
    }

    /// Ends the dependents of tasks that did not complete (by the run's
    /// policy), then ends the run once every task has ended.
    pub(crate) fn settle_dependents(&mut self, now: ClusterTime) {
        let (state, verb) = match self.spec.on_dependency_failure {
            DependencyPolicy::Fail => (TaskState::Failed, "failed"),
            DependencyPolicy::Skip => (TaskState::Cancelled, "skipped"),
        };
        loop {
            let doomed: Vec<(TaskId, TaskId)> = self
                .tasks
                .iter()
                .filter(|(_, t)| t.state == TaskState::Pending || t.state == TaskState::Blocked)
                .filter_map(|(id, t)| {
                    t.spec
                        .depends_on
                        .iter()
                        .find(|d| {
                            self.tasks.get(*d).is_some_and(|d| {
                                d.state.is_terminal() && d.state != TaskState::Completed
                            })
                        })
                        .map(|d| (id.clone(), d.clone()))
                })
                .collect();
            if doomed.is_empty() {
                break;
            }
            for (task, dependency) in doomed {
                let reason = format!("{verb}: dependency {dependency} did not complete");
                self.finish(&task, state, Some(reason), now);
            }
        }
        if !self.status.is_terminal() && self.tasks.values().all(|t| t.state.is_terminal()) {
            let all_completed = self.tasks.values().all(|t| t.state == TaskState::Completed);
            self.status = if all_completed {
                RunStatus::Completed
            } else {
                RunStatus::Failed
            };
            if !all_completed {
                self.reason = Some("some tasks did not complete".into());
            }
            self.finished_at = Some(now);
        }
    }
}
