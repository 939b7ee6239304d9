//! `cortex run ...` and `cortex escalation ...`: the admin API's run routes
//! as commands, with readable tables (or `--json`) and a live `--watch`
//! (see `crate::watch`).

mod render;

use anyhow::{bail, Context};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::cli::{EscalationCommand, ResolveAction, RunCommand};
use crate::client::{path_segment, ApiClient, ApiFailure, Body};
use crate::report::escalation::EscalationView;
use crate::report::view::{RunDetail, RunSummary};
use render::{render_detail, render_escalations, render_list};

/// Runs a `cortex run` command.
pub async fn run(command: RunCommand) -> anyhow::Result<()> {
    match command {
        RunCommand::Submit { api, file, watch } => {
            let client = ApiClient::from_args(&api)?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let id = submit(&client, text).await?;
            println!("{id}");
            if watch {
                follow(&client, &id).await?;
            }
        }
        RunCommand::List { api, status, json } => {
            let client = ApiClient::from_args(&api)?;
            let path = match status {
                Some(status) => format!("/v1/runs?status={status}"),
                None => "/v1/runs".to_string(),
            };
            let value = client.send(Method::GET, &path, None).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                let runs: Vec<RunSummary> =
                    serde_json::from_value(value).context("unexpected /v1/runs answer")?;
                print!("{}", render_list(&runs));
            }
        }
        RunCommand::Show { api, id, json } => {
            let client = ApiClient::from_args(&api)?;
            let value = client.send(Method::GET, &run_path(&id, ""), None).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", render_detail(&parse_detail(value)?));
            }
        }
        RunCommand::Watch { api, id } => follow(&ApiClient::from_args(&api)?, &id).await?,
        RunCommand::Cancel { api, id, reason } => {
            let client = ApiClient::from_args(&api)?;
            let body = reason.map(|reason| Body::Json(json!({ "reason": reason })));
            client
                .send(Method::POST, &run_path(&id, "/cancel"), body)
                .await?;
            println!("run {id} cancelled");
        }
        RunCommand::Report { api, id, json } => {
            let client = ApiClient::from_args(&api)?;
            if json {
                let value = client
                    .send(Method::GET, &run_path(&id, "/report"), None)
                    .await?;
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", markdown_report(&client, &id).await?);
            }
        }
        RunCommand::Logs {
            api,
            id,
            task,
            attempt,
        } => {
            let client = ApiClient::from_args(&api)?;
            let mut path = run_path(
                &id,
                &format!("/tasks/{}/logs?format=text", path_segment(&task)),
            );
            if let Some(n) = attempt {
                path.push_str(&format!("&attempt={n}"));
            }
            match client.send(Method::GET, &path, None).await? {
                Value::String(text) => print!("{text}"),
                other => println!("{other}"),
            }
        }
        RunCommand::Approve { api, id, task } => {
            let client = ApiClient::from_args(&api)?;
            let path = run_path(&id, &format!("/tasks/{}/approve", path_segment(&task)));
            client.send(Method::POST, &path, None).await?;
            println!("task {task} of run {id} approved");
        }
    }
    Ok(())
}

/// Runs a `cortex escalation` command.
pub async fn escalation(command: EscalationCommand) -> anyhow::Result<()> {
    match command {
        EscalationCommand::List { api, open, json } => {
            let client = ApiClient::from_args(&api)?;
            let path = if open {
                "/v1/escalations?open=true"
            } else {
                "/v1/escalations"
            };
            let value = client.send(Method::GET, path, None).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                let list: Vec<EscalationView> =
                    serde_json::from_value(value).context("unexpected /v1/escalations answer")?;
                print!("{}", render_escalations(&list));
            }
        }
        EscalationCommand::Resolve {
            api,
            id,
            action,
            amount,
        } => {
            let client = ApiClient::from_args(&api)?;
            let body = match (action, amount) {
                (ResolveAction::GrantReserve, Some(amount)) => {
                    json!({ "action": "grant_reserve", "amount": amount })
                }
                (ResolveAction::GrantReserve, None) => bail!("grant-reserve needs an AMOUNT"),
                (ResolveAction::Retry, _) => json!({ "action": "retry" }),
                (ResolveAction::Cancel, _) => json!({ "action": "cancel" }),
            };
            let path = format!("/v1/escalations/{}/resolve", path_segment(&id));
            client
                .send(Method::POST, &path, Some(Body::Json(body)))
                .await?;
            println!("escalation {id} resolved");
        }
    }
    Ok(())
}

/// Submits a plan; on 422 prints each problem as `path: message` on stderr.
pub(crate) async fn submit(client: &ApiClient, text: String) -> anyhow::Result<String> {
    match client
        .send(Method::POST, "/v1/runs", Some(Body::Text(text)))
        .await
    {
        Ok(answer) => answer["id"]
            .as_str()
            .map(str::to_string)
            .context("the API did not return a run id"),
        Err(error) => {
            let Some(failure) = error.downcast_ref::<ApiFailure>() else {
                return Err(error);
            };
            let details = failure.body["error"]["details"].as_array();
            match details {
                Some(problems) if failure.status == StatusCode::UNPROCESSABLE_ENTITY => {
                    for problem in problems {
                        let path = problem["path"].as_str().unwrap_or_default();
                        let message = problem["message"].as_str().unwrap_or_default();
                        match path {
                            "" => eprintln!("{message}"),
                            _ => eprintln!("{path}: {message}"),
                        }
                    }
                    bail!("the plan was rejected ({} problems)", problems.len())
                }
                _ => Err(error),
            }
        }
    }
}

/// Follows the run's event stream, drawing the live view, until the run
/// ends; then prints its Markdown report (the executive summary).
pub(crate) async fn follow(client: &ApiClient, id: &str) -> anyhow::Result<()> {
    crate::watch::follow(client, id).await?;
    print!("{}", markdown_report(client, id).await?);
    Ok(())
}

async fn markdown_report(client: &ApiClient, id: &str) -> anyhow::Result<String> {
    let path = run_path(id, "/report?format=md");
    match client.send(Method::GET, &path, None).await? {
        Value::String(text) => Ok(text),
        other => bail!("expected Markdown, got {other}"),
    }
}

fn parse_detail(value: Value) -> anyhow::Result<RunDetail> {
    serde_json::from_value(value).context("unexpected /v1/runs/{id} answer")
}

fn run_path(id: &str, rest: &str) -> String {
    format!("/v1/runs/{}{rest}", path_segment(id))
}
