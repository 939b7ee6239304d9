//! Who a request comes from and whether its role may do what it asks.
//!
//! [`Access`] holds every token this daemon accepts. A presented token is
//! compared with each of them in constant time, all of them every time, so
//! neither timing nor the order of the file tells which one (or how much of
//! one) matched. A missing or unknown token is 401; a known token whose role
//! is too low is 403. The routes pick their role with [`Access::guard`];
//! routes that change something also take from a named token's rate limit
//! ([`Access::guard_changes`], `super::rate`), and so do GraphQL mutations
//! (through [`ChangeLimit`]): one allowance per token across both APIs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use cortex_catalog::ChangeLimit;
use cortex_consensus::audit::{Actor, Role};
use subtle::{Choice, ConstantTimeEq};

use super::rate::{RateLimiter, DEFAULT_BURST, DEFAULT_PER_SECOND};
use super::token::AdminToken;
use super::tokens_file::{NamedToken, ADMIN_NAME};
use crate::api::error::ApiError;

/// The tokens this daemon accepts, whether `/metrics` needs one, and the
/// rate limits on changes.
#[derive(Clone)]
pub struct Access {
    tokens: Arc<Vec<NamedToken>>,
    metrics_need_token: bool,
    changes: Arc<RateLimiter>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("tokens", &self.tokens.len())
            .field("metrics_need_token", &self.metrics_need_token)
            .field("changes", &self.changes)
            .finish()
    }
}

impl Access {
    /// The admin token (acting as `admin`) and the named `tokens`.
    pub fn new(admin: &AdminToken, tokens: Vec<NamedToken>) -> Access {
        let mut all = vec![NamedToken {
            actor: Actor {
                name: ADMIN_NAME.to_string(),
                role: Role::Admin,
            },
            secret: admin.expose().to_string(),
        }];
        all.extend(tokens);
        Access {
            tokens: Arc::new(all),
            metrics_need_token: false,
            changes: Arc::new(RateLimiter::new(DEFAULT_PER_SECOND, DEFAULT_BURST)),
        }
    }

    /// Limits each named token to `per_second` changes a second after a
    /// burst of `burst`.
    pub fn with_change_rate(mut self, per_second: u32, burst: u32) -> Access {
        self.changes = Arc::new(RateLimiter::new(per_second, burst));
        self
    }

    /// Only the admin token.
    pub fn admin_only(admin: &AdminToken) -> Access {
        Access::new(admin, Vec::new())
    }

    /// Makes `/metrics` need a token (any role).
    pub fn with_metrics_token(mut self, needed: bool) -> Access {
        self.metrics_need_token = needed;
        self
    }

    /// Whether `/metrics` needs a token.
    pub fn metrics_need_token(&self) -> bool {
        self.metrics_need_token
    }

    /// The actor whose token `presented` is, if any.
    pub fn actor_of(&self, presented: &str) -> Option<Actor> {
        let presented = presented.trim().as_bytes();
        let mut found = None;
        for token in self.tokens.iter() {
            // No early exit: every token is compared whatever matched.
            let same: Choice = token.secret.as_bytes().ct_eq(presented);
            if bool::from(same) {
                found = Some(token.actor.clone());
            }
        }
        found
    }

    /// The actor of a request's `Authorization: Bearer` header; 401 without one.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Actor, ApiError> {
        match bearer(headers) {
            Some(presented) => self
                .actor_of(presented)
                .ok_or_else(|| ApiError::unauthorized("invalid bearer token")),
            None => Err(ApiError::unauthorized(
                "missing bearer token (Authorization: Bearer <token>)",
            )),
        }
    }

    /// `routes` let through only callers whose role is at least `role`; the
    /// handlers find the [`Actor`] in the request's extensions.
    pub fn guard<S: Clone + Send + Sync + 'static>(
        &self,
        role: Role,
        routes: Router<S>,
    ) -> Router<S> {
        self.guarded(role, false, routes)
    }

    /// Like [`Access::guard`] for routes that change something: each call
    /// of a named token also takes from its rate limit (429 `rate_limited`
    /// beyond).
    pub fn guard_changes<S: Clone + Send + Sync + 'static>(
        &self,
        role: Role,
        routes: Router<S>,
    ) -> Router<S> {
        self.guarded(role, true, routes)
    }

    fn guarded<S: Clone + Send + Sync + 'static>(
        &self,
        role: Role,
        limited: bool,
        routes: Router<S>,
    ) -> Router<S> {
        let guard = Guard {
            access: self.clone(),
            role,
            limited,
        };
        routes.route_layer(middleware::from_fn_with_state(guard, require_role))
    }
}

/// What a group of routes needs.
#[derive(Clone)]
struct Guard {
    access: Access,
    role: Role,
    /// Whether calls take from the caller's rate limit.
    limited: bool,
}

/// Axum middleware behind [`Access::guard`] and [`Access::guard_changes`].
async fn require_role(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let actor = match guard.access.authenticate(request.headers()) {
        Ok(actor) => actor,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = permit(&actor, guard.role) {
        return error.into_response();
    }
    if guard.limited {
        if let Err(wait) = guard.access.take(&actor) {
            return rate_limited(&actor, wait);
        }
    }
    request.extensions_mut().insert(actor);
    next.run(request).await
}

impl ChangeLimit for Access {
    fn take(&self, actor: &Actor) -> Result<(), Duration> {
        // The admin token operates the cluster (and drives the benchmarks);
        // the named tokens programs use are the ones held to a rate.
        if actor.name == ADMIN_NAME {
            return Ok(());
        }
        self.changes.take(&actor.name, Instant::now())
    }
}

/// 429 with the seconds to wait in `Retry-After`.
fn rate_limited(actor: &Actor, wait: Duration) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let message = format!(
        "{} is over its rate limit for changes; retry in {seconds} s",
        actor.name
    );
    let mut response =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// 403 unless `actor`'s role is at least `needed`.
fn permit(actor: &Actor, needed: Role) -> Result<(), ApiError> {
    if actor.role >= needed {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "{} has the {} role; this needs {needed}",
            actor.name, actor.role
        )))
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tokens_file;

    fn access() -> (Access, AdminToken) {
        let admin = AdminToken::generate();
        let named = tokens_file::parse(
            "tokens:\n  - {name: eve, role: viewer, token: viewer-token-0123456}\n  \
             - {name: ops, role: operator, token: operator-token-01234}\n",
        )
        .unwrap();
        (Access::new(&admin, named), admin)
    }

    #[test]
    fn each_token_is_its_actor() {
        let (access, admin) = access();
        let of = |t: &str| access.actor_of(t).map(|a| (a.name, a.role));
        assert_eq!(of(admin.expose()), Some(("admin".into(), Role::Admin)));
        assert_eq!(
            of("viewer-token-0123456"),
            Some(("eve".into(), Role::Viewer))
        );
        assert_eq!(
            of(" operator-token-01234 "),
            Some(("ops".into(), Role::Operator))
        );
        for wrong in ["", "viewer-token-012345", "viewer-token-01234567", "x"] {
            assert_eq!(of(wrong), None, "{wrong:?}");
        }
        assert!(!format!("{access:?}").contains("token-0"));
    }

    #[test]
    fn a_lower_role_is_forbidden_a_higher_one_permitted() {
        let viewer = Actor {
            name: "eve".into(),
            role: Role::Viewer,
        };
        assert!(permit(&viewer, Role::Viewer).is_ok());
        let error = permit(&viewer, Role::Operator).unwrap_err();
        let response = axum::response::IntoResponse::into_response(error);
        assert_eq!(response.status(), axum::http::StatusCode::FORBIDDEN);
        let admin = Actor {
            name: "root".into(),
            role: Role::Admin,
        };
        assert!(permit(&admin, Role::Operator).is_ok());
    }
}
