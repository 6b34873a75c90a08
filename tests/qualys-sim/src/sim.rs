//! What happens to every request, in the order Qualys checks things: routing, Basic auth,
//! `X-Requested-With`, registration, method and action, concurrency and rate limits, faults,
//! and finally the call itself. Also the admin endpoints under `/__sim/`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;

use crate::api::{self, Call, Ctx, Op, Reply, Route, Style, simple_code, simple_code_item, tag};
use crate::faults::{FaultKind, FaultPlan};
use crate::http::{Outcome, Request, Response, Shutdown};
use crate::limits::{Blocked, LimitHeaders, Limiter};
use crate::params::{ApiError, Params};
use crate::state::State;
use crate::{AuthSecrets, Config, Counters, export, lock};

#[derive(Debug, Default)]
struct Stats {
    calls: BTreeMap<String, u64>,
    mutating_calls: u64,
    faults: BTreeMap<String, u64>,
    blocked: BTreeMap<String, u64>,
}

pub(crate) struct Sim {
    user: String,
    password: String,
    base: String,
    state: Mutex<State>,
    limiter: Limiter,
    faults: Mutex<FaultPlan>,
    stats: Mutex<Stats>,
    skipped_seed_files: Vec<String>,
    shutdown: Arc<Shutdown>,
}

fn respond(response: Response) -> Outcome {
    Outcome::Respond(response)
}

fn with_limits(mut response: Response, headers: LimitHeaders) -> Response {
    for (name, value) in headers.pairs() {
        response.headers.push((name.to_owned(), value));
    }
    response
}

/// The body is a form when it says so, or when it says nothing and is not XML.
fn form_body(req: &Request) -> Option<&[u8]> {
    let content_type = req.header("Content-Type").unwrap_or_default().to_ascii_lowercase();
    let is_form = content_type.starts_with("application/x-www-form-urlencoded")
        || (content_type.is_empty() && !req.body.trim_ascii_start().starts_with(b"<"));
    (is_form && !req.body.is_empty()).then_some(req.body.as_slice())
}

impl Sim {
    pub fn new(
        config: &Config,
        state: State,
        skipped_seed_files: Vec<String>,
        base: String,
        shutdown: Arc<Shutdown>,
    ) -> Self {
        Sim {
            user: config.user.clone(),
            password: config.password.clone(),
            base,
            state: Mutex::new(state),
            limiter: Limiter::new(config.limits.clone(), config.time_scale),
            faults: Mutex::new(FaultPlan::new(config.faults.clone())),
            stats: Mutex::new(Stats::default()),
            skipped_seed_files,
            shutdown,
        }
    }

    fn ctx(&self) -> Ctx {
        Ctx { base: self.base.clone(), user: self.user.clone() }
    }

    fn count(&self, map: fn(&mut Stats) -> &mut BTreeMap<String, u64>, key: &str) {
        *map(&mut lock(&self.stats)).entry(key.to_owned()).or_default() += 1;
    }

    pub fn handle(&self, req: Request) -> Outcome {
        if let Some(admin) = req.path.strip_prefix("/__sim/") {
            return respond(self.admin(admin, &req));
        }
        match api::route(&req.path) {
            Route::Found(ops, segment) => self.call(&req, &ops, &segment),
            Route::Redirect(location) => {
                let query = if req.query.is_empty() { String::new() } else { format!("?{}", req.query) };
                let page = Response::html_page(301, "The document has moved.");
                respond(page.with_header("Location", format!("{}{location}{query}", self.base)))
            }
            Route::NotFound => respond(Response::html_page(404, "The requested URL was not found on this server.")),
        }
    }

    /// A request for an API path: checked, admitted, faulted, run.
    fn call(&self, req: &Request, ops: &[&'static Op], segment: &str) -> Outcome {
        let params = Params::parse(&req.query, form_body(req));
        let key = match params.get("action") {
            Some(action) => format!("{}?action={action}", req.path),
            None => req.path.clone(),
        };
        self.count(|s| &mut s.calls, &key);
        let ctx = self.ctx();
        let now = lock(&self.state).now();
        let op = match self.check(req, ops, &params, &ctx, &now) {
            Ok(op) => op,
            Err(response) => return respond(with_limits(response, self.limiter.peek(&req.path))),
        };

        let (admission, headers) = self.limiter.admit(&req.path);
        let _running = match admission {
            Ok(permit) => permit,
            Err(blocked) => return respond(with_limits(self.blocked(blocked, &ctx, &now), headers)),
        };

        let (fault, slow_delay) = {
            let mut faults = lock(&self.faults);
            (faults.next(op.mutating), faults.slow_delay())
        };
        if op.mutating {
            lock(&self.stats).mutating_calls += 1;
        }
        if let Some(kind) = fault {
            self.count(|s| &mut s.faults, kind.name());
        }
        match fault {
            Some(FaultKind::ServerError) => {
                let message = "The server is temporarily unable to service your request. Please try again later.";
                return respond(with_limits(Response::html_page(503, message), headers));
            }
            Some(FaultKind::Slow) => std::thread::sleep(slow_delay),
            Some(FaultKind::DropResponse) | None => {}
        }

        let response = {
            let mut state = lock(&self.state);
            let mut call =
                Call { params: &params, body: &req.body, path: &req.path, segment, state: &mut state, ctx: &ctx };
            match op.run(&mut call) {
                Ok(Reply::Xml(doc)) => Response::xml(200, doc.to_xml()),
                Ok(Reply::Csv(text)) => Response::new(200, "text/csv;charset=UTF-8", text),
                Err(err) => api::error_response(op.style, &err, &ctx, &req.path, &state.now()),
            }
        };
        if fault == Some(FaultKind::DropResponse) {
            return Outcome::Drop;
        }
        respond(with_limits(response, headers))
    }

    /// What Qualys checks before a call counts against the limits: credentials, the
    /// `X-Requested-With` header, registration, then action and method.
    fn check(
        &self,
        req: &Request,
        ops: &[&'static Op],
        params: &Params,
        ctx: &Ctx,
        now: &str,
    ) -> Result<&'static Op, Response> {
        let style = ops[0].style;
        self.authenticate(req, style, ctx, now)?;
        if req.header("X-Requested-With").is_none_or(|v| v.trim().is_empty()) {
            let err = ApiError::new(400, 1903, "Missing required header: X-Requested-With");
            return Err(api::error_response(style, &err, ctx, &req.path, now));
        }
        if lock(&self.faults).registration_pending() {
            self.count(|s| &mut s.faults, "registration_pending");
            let text = "Registration must be completed before API requests will be served for this account";
            return Err(Response::xml(409, simple_code(ctx, now, "2003", text).to_xml()));
        }
        api::select(ops, &req.method, params).map_err(|err| api::error_response(style, &err, ctx, &req.path, now))
    }

    /// The 409 answer to a call the limits refused.
    fn blocked(&self, blocked: Blocked, ctx: &Ctx, now: &str) -> Response {
        let doc = match blocked {
            Blocked::Concurrency { to_finish } => {
                self.count(|s| &mut s.blocked, "concurrency_limit_1960");
                let instances = if to_finish == 1 { "instance has" } else { "instances have" };
                let text = format!(
                    "This API cannot be run again until {to_finish} currently running API {instances} finished."
                );
                simple_code_item(ctx, now, 1960, &text, ("CALLS_TO_FINISH", to_finish.to_string()))
            }
            Blocked::Rate { to_wait_secs } => {
                self.count(|s| &mut s.blocked, "rate_limit_1965");
                let text = format!("This API cannot be run again for another {}.", duration_words(to_wait_secs));
                simple_code_item(ctx, now, 1965, &text, ("SECONDS_TO_WAIT", to_wait_secs.to_string()))
            }
        };
        Response::xml(409, doc.to_xml())
    }

    fn authenticate(&self, req: &Request, style: Style, ctx: &Ctx, now: &str) -> Result<(), Response> {
        let challenge = |page: Response| page.with_header("WWW-Authenticate", "Basic realm=\"Qualys API\"");
        let Some(header) = req.header("Authorization") else {
            let message = "This server could not verify that you are authorized to access the document requested.";
            return Err(challenge(Response::html_page(401, message)));
        };
        let credentials = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .and_then(|(_, encoded)| base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok())
            .and_then(|decoded| String::from_utf8(decoded).ok());
        let valid = credentials
            .as_deref()
            .and_then(|c| c.split_once(':'))
            .is_some_and(|(u, p)| u == self.user && p == self.password);
        if valid {
            return Ok(());
        }
        Err(match style {
            Style::Simple => Response::xml(401, simple_code(ctx, now, "2000", "Bad Login/Password").to_xml()),
            // As captured from Qualys: HTTP 200, the failure is in the body only.
            Style::Qps => {
                let resolution = Some("Verify both, user and password credentials.");
                Response::xml(
                    200,
                    tag::error_document(ctx, "INVALID_CREDENTIALS", "Authentication failed", resolution).to_xml(),
                )
            }
            Style::UserOutput | Style::UserList | Style::GenericReturn => {
                challenge(Response::html_page(401, "Bad Login/Password"))
            }
        })
    }

    fn admin(&self, what: &str, req: &Request) -> Response {
        let params = Params::parse(&req.query, form_body(req));
        let json = |status: u16, value: serde_json::Value| Response::new(status, "application/json", value.to_string());
        match (req.method.as_str(), what) {
            ("GET", "counters") => match serde_json::to_string_pretty(&self.counters()) {
                Ok(body) => Response::new(200, "application/json", body),
                Err(e) => json(500, serde_json::json!({ "error": e.to_string() })),
            },
            ("GET", "auth-secrets") => match serde_json::to_string_pretty(&self.auth_secrets()) {
                Ok(body) => Response::new(200, "application/json", body),
                Err(e) => json(500, serde_json::json!({ "error": e.to_string() })),
            },
            ("POST", "export") => match params.value("dir") {
                None => json(400, serde_json::json!({ "error": "missing dir parameter" })),
                Some(dir) => match self.export(Path::new(dir)) {
                    Ok(()) => json(200, serde_json::json!({ "exported": dir })),
                    Err(e) => json(500, serde_json::json!({ "error": e.to_string() })),
                },
            },
            ("POST", "registration") => match params.flag("pending", false) {
                Ok(pending) => {
                    lock(&self.faults).set_registration_pending(pending);
                    json(200, serde_json::json!({ "registration_pending": pending }))
                }
                Err(e) => json(400, serde_json::json!({ "error": e.text })),
            },
            ("POST", "shutdown") => {
                self.shutdown.request();
                json(200, serde_json::json!({ "stopping": true }))
            }
            (_, "counters" | "auth-secrets" | "export" | "registration" | "shutdown") => {
                json(405, serde_json::json!({ "error": "method not allowed" }))
            }
            _ => json(404, serde_json::json!({ "error": format!("no admin endpoint /__sim/{what}") })),
        }
    }

    pub fn set_registration_pending(&self, pending: bool) {
        lock(&self.faults).set_registration_pending(pending);
    }

    pub fn auth_secrets(&self) -> AuthSecrets {
        api::auth_record::secret_digests(&lock(&self.state))
    }

    pub fn export(&self, dir: &Path) -> std::io::Result<()> {
        let state = lock(&self.state).clone();
        export::write(&state, dir)
    }

    pub fn counters(&self) -> Counters {
        let stats = lock(&self.stats);
        let state = lock(&self.state);
        let objects = api::KINDS
            .iter()
            .flat_map(|kind| kind.counts)
            .map(|(name, count)| ((*name).to_owned(), count(&state)))
            .collect();
        Counters {
            calls: stats.calls.clone(),
            mutating_calls: stats.mutating_calls,
            faults: stats.faults.clone(),
            blocked: stats.blocked.clone(),
            objects,
            skipped_seed_files: self.skipped_seed_files.clone(),
            simulated_ms: self.limiter.simulated_ms(),
        }
    }
}

/// "23 hours, 57 minutes and 54 seconds", as the 1965 message words it.
fn duration_words(secs: u64) -> String {
    let parts: Vec<String> = [(secs / 3600, "hour"), (secs % 3600 / 60, "minute"), (secs % 60, "second")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}{}", if n == 1 { "" } else { "s" }))
        .collect();
    match parts.as_slice() {
        [] => "0 seconds".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_worded_like_qualys() {
        assert_eq!(duration_words(86_274), "23 hours, 57 minutes and 54 seconds");
        assert_eq!(duration_words(60), "1 minute");
        assert_eq!(duration_words(0), "0 seconds");
    }
}
