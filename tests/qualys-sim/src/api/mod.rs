//! The API surface: every path, action and method the simulator answers, the documents
//! shared by several endpoints (SIMPLE_RETURN, the V1 return documents, echoed requests,
//! truncation warnings), and how errors are written in each API family.
//!
//! Each object kind is one module: its objects, its calls, its list document (the same
//! document the export writes), the reading of that document for `--seed`, and the
//! [`Registration`] through which routing, seeding, export and counters reach all of these.

pub(crate) mod appliance;
pub(crate) mod auth_record;
pub(crate) mod domain;
pub(crate) mod group;
pub(crate) mod ip;
pub(crate) mod network;
pub(crate) mod option_profile;
pub(crate) mod policy;
pub(crate) mod report_template;
pub(crate) mod schedule;
pub(crate) mod search_list;
pub(crate) mod subscription;
pub(crate) mod tag;
pub(crate) mod user;
pub(crate) mod vault;
pub(crate) mod vhost;

use crate::http::Response;
use crate::params::{ApiError, Params};
use crate::seed::SeedDoc;
use crate::state::State;
use crate::xml::{Document, Element, parse};

/// Where the documents say they come from: the live server, or a fixed host in exports so
/// that an export does not depend on the port the simulator happened to listen on.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub base: String,
    pub user: String,
}

/// One call being handled.
pub(crate) struct Call<'a> {
    pub params: &'a Params,
    pub body: &'a [u8],
    /// The request path, and the part of it matched by `*` in the pattern.
    pub path: &'a str,
    pub segment: &'a str,
    pub state: &'a mut State,
    pub ctx: &'a Ctx,
}

impl Call<'_> {
    /// The XML document of an XML-body call (imports, QPS requests, template creates).
    pub fn xml_body(&self) -> Result<Element, ApiError> {
        let text =
            std::str::from_utf8(self.body).map_err(|_| ApiError::invalid_request("The XML body is not UTF-8"))?;
        if text.trim().is_empty() {
            return Err(ApiError::new(400, 1903, "Missing required XML document in the request body"));
        }
        parse(text).map(|p| p.root).map_err(|e| ApiError::invalid_request(format!("Invalid XML body: {e}")))
    }
}

/// A successful answer: almost always XML; the IPv6 mapping list also speaks CSV.
#[derive(Debug)]
pub(crate) enum Reply {
    Xml(Document),
    Csv(String),
}

impl From<Document> for Reply {
    fn from(doc: Document) -> Self {
        Reply::Xml(doc)
    }
}

pub(crate) type Run = fn(&mut Call<'_>) -> Result<Reply, ApiError>;
/// A read answered by one document computed from the state alone: the same function writes
/// the kind's file in an export.
pub(crate) type DocFn = fn(&State, &Params, &Ctx) -> Result<Document, ApiError>;
/// The same, for a path with a `*` segment (a record or template type), which it receives.
pub(crate) type TypedDocFn = fn(&State, &Params, &Ctx, &str) -> Result<Document, ApiError>;

/// The files of one kind in an export directory, by name.
pub(crate) type ExportFn = fn(&State, &Ctx) -> Result<Vec<(String, Document)>, ApiError>;
/// One entry of the counters' `objects`: its name and how it is counted.
pub(crate) type Count = (&'static str, fn(&State) -> u64);

/// What runs a call.
pub(crate) enum Handler {
    Doc(DocFn),
    TypedDoc(TypedDocFn),
    Call(Run),
}

/// Everything the simulator knows about one kind of object. The router, the seed loader, the
/// export and the counters loop over [`KINDS`], so a new kind is its module, one line there
/// and the field of [`State`] that holds its objects.
pub(crate) struct Registration {
    pub ops: &'static [Op],
    /// The documents that seed it, applied in this order.
    pub seeds: &'static [SeedDoc],
    /// What a new subscription holds of this kind; added unless a seed document replaced it.
    pub defaults: Option<fn(&mut State)>,
    pub export: ExportFn,
    pub counts: &'static [Count],
}

/// Every kind, in the order seed documents are applied: what others refer to comes first.
pub(crate) static KINDS: &[&Registration] = &[
    &subscription::KIND,
    &appliance::KIND,
    &network::KIND,
    &ip::KIND,
    &domain::KIND,
    &user::KIND,
    &group::KIND,
    &option_profile::KIND,
    &search_list::KIND,
    &report_template::KIND,
    &vault::KIND,
    &auth_record::KIND,
    &tag::KIND,
    &policy::KIND,
    &schedule::KIND,
    &vhost::KIND,
];

/// How a family of endpoints writes its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// VM/PC API v2: `SIMPLE_RETURN` with a numeric `CODE`, HTTP 4xx.
    Simple,
    /// `/msp/user.php`: `USER_OUTPUT/RETURN@status="FAILED"`.
    UserOutput,
    /// `/msp/user_list.php`: `USER_LIST_OUTPUT/ERROR@number`.
    UserList,
    /// Other V1 `/msp/*.php` calls: `GENERIC_RETURN/RETURN@status="FAILED"`.
    GenericReturn,
    /// QPS REST: `ServiceResponse` with `responseCode` `INVALID_REQUEST`.
    Qps,
}

pub(crate) struct Op {
    /// The path; `*` stands for one segment that `segment` accepts.
    pub pattern: &'static str,
    pub segment: fn(&str) -> bool,
    pub action: Option<&'static str>,
    pub methods: &'static [&'static str],
    /// Creates, adds, updates or imports something (scripted faults count these).
    pub mutating: bool,
    pub style: Style,
    pub handler: Handler,
}

impl Op {
    pub fn run(&self, call: &mut Call<'_>) -> Result<Reply, ApiError> {
        match self.handler {
            Handler::Doc(doc) => doc(call.state, call.params, call.ctx).map(Reply::Xml),
            Handler::TypedDoc(doc) => doc(call.state, call.params, call.ctx, call.segment).map(Reply::Xml),
            Handler::Call(run) => run(call),
        }
    }
}

const GET_POST: &[&str] = &["GET", "POST"];
const POST: &[&str] = &["POST"];

/// A v2 read (list, export) answering one document.
pub(crate) const fn read(pattern: &'static str, action: &'static str, doc: DocFn) -> Op {
    read_with(pattern, action, Handler::Doc(doc))
}

pub(crate) const fn read_with(pattern: &'static str, action: &'static str, handler: Handler) -> Op {
    Op {
        pattern,
        segment: no_segment,
        action: Some(action),
        methods: GET_POST,
        mutating: false,
        style: Style::Simple,
        handler,
    }
}

/// A v2 call that changes the state.
pub(crate) const fn write(pattern: &'static str, action: &'static str, run: Run) -> Op {
    Op {
        pattern,
        segment: no_segment,
        action: Some(action),
        methods: POST,
        mutating: true,
        style: Style::Simple,
        handler: Handler::Call(run),
    }
}

/// An operation on a path with a `*` segment (a record or template type) that `segment` accepts.
pub(crate) const fn typed(mut op: Op, segment: fn(&str) -> bool) -> Op {
    op.segment = segment;
    op
}

fn no_segment(_: &str) -> bool {
    false
}

pub(crate) const fn v1(
    pattern: &'static str,
    action: Option<&'static str>,
    mutating: bool,
    style: Style,
    handler: Handler,
) -> Op {
    Op { pattern, segment: no_segment, action, methods: GET_POST, mutating, style, handler }
}

pub(crate) const fn qps(pattern: &'static str, mutating: bool, run: Run) -> Op {
    Op {
        pattern,
        segment: no_segment,
        action: None,
        methods: POST,
        mutating,
        style: Style::Qps,
        handler: Handler::Call(run),
    }
}

fn ops() -> impl Iterator<Item = &'static Op> {
    KINDS.iter().flat_map(|kind| kind.ops)
}

/// Where a request path leads.
pub(crate) enum Route {
    /// The operations at this path (one per action) and the segment matched by `*`.
    Found(Vec<&'static Op>, String),
    /// The path without its trailing slash: Qualys redirects to the canonical path.
    Redirect(String),
    NotFound,
}

pub(crate) fn route(path: &str) -> Route {
    let found = |path: &str| {
        let matched: Vec<(&'static Op, String)> =
            ops().filter_map(|op| matches(op, path).map(|segment| (op, segment))).collect();
        let segment = matched.first()?.1.clone();
        Some((matched.into_iter().map(|(op, _)| op).collect::<Vec<_>>(), segment))
    };
    if let Some((ops, segment)) = found(path) {
        return Route::Found(ops, segment);
    }
    if !path.ends_with('/') && found(&format!("{path}/")).is_some() {
        return Route::Redirect(format!("{path}/"));
    }
    Route::NotFound
}

fn matches(op: &Op, path: &str) -> Option<String> {
    // QPS paths are written without a trailing slash, but clients add one freely.
    let path = if op.style == Style::Qps { path.trim_end_matches('/') } else { path };
    let (want, have): (Vec<&str>, Vec<&str>) = (op.pattern.split('/').collect(), path.split('/').collect());
    if want.len() != have.len() {
        return None;
    }
    let mut segment = None;
    for (w, h) in want.iter().zip(&have) {
        if *w == "*" {
            if !(op.segment)(h) {
                return None;
            }
            segment = Some((*h).to_owned());
        } else if w != h {
            return None;
        }
    }
    Some(segment.unwrap_or_default())
}

/// Picks the operation for the `action` parameter and checks the HTTP method.
pub(crate) fn select(ops: &[&'static Op], method: &str, params: &Params) -> Result<&'static Op, ApiError> {
    let op = match ops {
        [only] if only.action.is_none() => *only,
        _ => {
            let action = params.require("action")?;
            ops.iter()
                .copied()
                .find(|op| op.action == Some(action))
                .ok_or_else(|| ApiError::invalid("action", action, ""))?
        }
    };
    if !op.methods.contains(&method) {
        return Err(ApiError::method(method));
    }
    Ok(op)
}

/// The error document of a family, with its HTTP status.
pub(crate) fn error_response(style: Style, err: &ApiError, ctx: &Ctx, path: &str, now: &str) -> Response {
    match style {
        Style::Simple => Response::xml(err.status, simple_code(ctx, now, &err.code.to_string(), &err.text).to_xml()),
        // V1 calls report failures inside a 200 answer.
        Style::UserOutput => {
            let root = Element::new("USER_OUTPUT").child(v1_api(path, ctx, now)).child(v1_failed(err, true));
            Response::xml(200, Document::with_dtd(root, format!("{}/user_output.dtd", ctx.base)).to_xml())
        }
        Style::UserList => Response::xml(200, user::list_error(ctx, err).to_xml()),
        Style::GenericReturn => Response::xml(200, generic_return(ctx, path, now, v1_failed(err, false)).to_xml()),
        Style::Qps => Response::xml(200, tag::error_document(ctx, "INVALID_REQUEST", &err.text, None).to_xml()),
    }
}

fn v1_failed(err: &ApiError, message_element: bool) -> Element {
    let ret = Element::new("RETURN").attr("status", "FAILED").attr("number", err.code.to_string());
    if message_element { ret.child(Element::cdata("MESSAGE", &err.text)) } else { ret.content(&err.text) }
}

/// `<API name="user.php" username="..." at="..."/>`, the header of V1 answers.
pub(crate) fn v1_api(path: &str, ctx: &Ctx, now: &str) -> Element {
    let name = path.rsplit('/').next().unwrap_or(path);
    Element::new("API").attr("name", name).attr("username", &ctx.user).attr("at", now)
}

/// A V1 `GENERIC_RETURN` around a `RETURN` element.
fn generic_return(ctx: &Ctx, path: &str, now: &str, ret: Element) -> Document {
    let root = Element::new("GENERIC_RETURN").child(v1_api(path, ctx, now)).child(ret);
    Document::with_dtd(root, format!("{}/generic_return.dtd", ctx.base))
}

/// A successful V1 `GENERIC_RETURN`.
pub(crate) fn generic_success(ctx: &Ctx, path: &str, now: &str, message: &str) -> Document {
    generic_return(ctx, path, now, Element::new("RETURN").attr("status", "SUCCESS").content(message))
}

fn item_list(items: &[(&str, String)]) -> Element {
    let mut list = Element::new("ITEM_LIST");
    for (key, value) in items {
        list.push(Element::new("ITEM").child(Element::text("KEY", *key)).child(Element::text("VALUE", value.clone())));
    }
    list
}

/// A v2 delete of one object by the ID in `param`: the object is removed from the map
/// `objects` selects when `belongs` accepts it (the kind the path names), and the answer is
/// a `SIMPLE_RETURN` naming its ID. An ID the subscription does not hold is refused, as
/// Qualys refuses it, and nothing changes.
pub(crate) fn delete_by_id<T>(
    call: &mut Call<'_>,
    param: &str,
    what: &str,
    objects: fn(&mut State) -> &mut std::collections::BTreeMap<u64, T>,
    belongs: impl Fn(&T) -> bool,
) -> Result<Reply, ApiError> {
    let p = call.params;
    p.only(&["action", "echo_request", param])?;
    let id = p.number(param)?.ok_or_else(|| ApiError::missing(&[param]))?;
    let map = objects(call.state);
    if !map.get(&id).is_some_and(belongs) {
        return Err(ApiError::invalid(param, id, &format!("No such {what}")));
    }
    map.remove(&id);
    let now = call.state.tick();
    Ok(simple_return(call.ctx, &now, &format!("{} deleted successfully", capitalize(what)), &[("ID", id.to_string())])
        .into())
}

/// A successful `SIMPLE_RETURN`: `TEXT`, and `ITEM_LIST` when there are items.
pub(crate) fn simple_return(ctx: &Ctx, now: &str, text: &str, items: &[(&str, String)]) -> Document {
    let mut response =
        Element::new("RESPONSE").child(Element::text("DATETIME", now)).child(Element::text("TEXT", text));
    if !items.is_empty() {
        response.push(item_list(items));
    }
    simple_document(ctx, response)
}

/// A `SIMPLE_RETURN` with a `CODE`: the errors, and the report-template answer that puts its
/// success message there.
pub(crate) fn simple_code(ctx: &Ctx, now: &str, code: &str, text: &str) -> Document {
    let response = Element::new("RESPONSE")
        .child(Element::text("DATETIME", now))
        .child(Element::text("CODE", code))
        .child(Element::text("TEXT", text));
    simple_document(ctx, response)
}

/// A `SIMPLE_RETURN` error carrying an `ITEM_LIST` value, as the limit errors do.
pub(crate) fn simple_code_item(ctx: &Ctx, now: &str, code: u32, text: &str, item: (&str, String)) -> Document {
    let response = Element::new("RESPONSE")
        .child(Element::text("DATETIME", now))
        .child(Element::text("CODE", code.to_string()))
        .child(Element::text("TEXT", text))
        .child(item_list(&[item]));
    simple_document(ctx, response)
}

fn simple_document(ctx: &Ctx, response: Element) -> Document {
    Document::with_dtd(Element::new("SIMPLE_RETURN").child(response), format!("{}/api/2.0/simple_return.dtd", ctx.base))
}

/// A v2 list document: `ROOT/(REQUEST?, RESPONSE/(DATETIME, body...))`, with the request
/// echoed when the call asked for `echo_request=1`.
pub(crate) fn list_document(
    root: &str,
    ctx: &Ctx,
    path: &str,
    params: &Params,
    now: &str,
    body: Vec<Element>,
) -> Result<Document, ApiError> {
    let mut doc = Element::new(root);
    if params.flag("echo_request", false)? {
        let mut list = Element::new("PARAM_LIST");
        for (key, value) in params.pairs() {
            list.push(Element::new("PARAM").child(Element::cdata("KEY", key)).child(Element::cdata("VALUE", value)));
        }
        doc.push(
            Element::new("REQUEST")
                .child(Element::text("DATETIME", now))
                .child(Element::cdata("USER_LOGIN", &ctx.user))
                .child(Element::cdata("RESOURCE", format!("{}{path}", ctx.base)))
                .child(list),
        );
    }
    let mut response = Element::new("RESPONSE").child(Element::text("DATETIME", now));
    for el in body {
        response.push(el);
    }
    doc.push(response);
    Ok(Document::with_dtd(doc, format!("{}{path}{}.dtd", ctx.base, root.to_lowercase())))
}

/// One page of an ID-ordered list, as `truncation_limit` and `id_min` select it, and the
/// `WARNING` (CODE 1980) whose `URL` asks for the next page.
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub warning: Option<Element>,
}

pub(crate) fn page<T>(
    items: impl IntoIterator<Item = (u64, T)>,
    call_params: &Params,
    ctx: &Ctx,
    path: &str,
    default_limit: u64,
) -> Result<Page<T>, ApiError> {
    let limit = call_params.number("truncation_limit")?.unwrap_or(default_limit);
    let id_min = call_params.number("id_min")?.unwrap_or(0);
    let id_max = call_params.number("id_max")?.unwrap_or(u64::MAX);
    let mut selected: Vec<(u64, T)> = items.into_iter().filter(|(id, _)| (id_min..=id_max).contains(id)).collect();
    selected.sort_by_key(|(id, _)| *id);
    let mut warning = None;
    if limit > 0 && selected.len() as u64 > limit {
        let rest = selected.split_off(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = rest[0].0;
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in call_params.pairs().iter().filter(|(k, _)| k != "id_min") {
            query.append_pair(k, v);
        }
        query.append_pair("id_min", &next.to_string());
        warning = Some(
            Element::new("WARNING")
                .child(Element::text("CODE", "1980"))
                .child(Element::text(
                    "TEXT",
                    format!("{limit} record limit exceeded. Use URL to get next batch of results."),
                ))
                .child(Element::cdata("URL", format!("{}{path}?{}", ctx.base, query.finish()))),
        );
    }
    Ok(Page { items: selected.into_iter().map(|(_, t)| t).collect(), warning })
}

/// Sorted IDs as runs of consecutive IDs, the way Qualys abbreviates ID lists.
pub(crate) fn id_runs(ids: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for id in ids {
        match runs.last_mut() {
            Some(run) if run.1 + 1 == id => run.1 = id,
            _ => runs.push((id, id)),
        }
    }
    runs
}

/// An `ID_SET`: single IDs as `ID`, runs as `ID_RANGE` (`a-b`).
pub(crate) fn id_set(ids: impl IntoIterator<Item = u64>) -> Element {
    let mut set = Element::new("ID_SET");
    for (lo, hi) in id_runs(ids) {
        set.push(if lo == hi {
            Element::text("ID", lo.to_string())
        } else {
            Element::text("ID_RANGE", format!("{lo}-{hi}"))
        });
    }
    set
}

/// Writes a value the way list outputs capitalise enumerations: `medium-high` → `Medium-High`.
pub(crate) fn capitalize(value: &str) -> String {
    value
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_paths_actions_and_methods() {
        let Route::Found(ops, _) = route(network::PATH) else { panic!("networks are routed") };
        let create = Params::parse("action=create&name=x", None);
        assert!(select(&ops, "POST", &create).is_ok_and(|op| op.mutating));
        assert_eq!(select(&ops, "GET", &create).err(), Some(ApiError::method("GET")));
        assert_eq!(select(&ops, "POST", &Params::default()).err().map(|e| e.code), Some(1903));
        assert!(matches!(route("/api/2.0/fo/network"), Route::Redirect(p) if p == network::PATH));
        assert!(matches!(route("/api/2.0/fo/auth/unix/"), Route::Found(_, s) if s == "unix"));
        assert!(matches!(route("/api/2.0/fo/auth/bogus/"), Route::NotFound));
        assert!(matches!(route("/qps/rest/2.0/search/am/tag/"), Route::Found(..)));
        assert!(matches!(route("/nothing/here"), Route::NotFound));
    }

    #[test]
    fn every_call_and_every_seed_document_belongs_to_one_kind() {
        let mut calls: Vec<(&str, Option<&str>)> = ops().map(|op| (op.pattern, op.action)).collect();
        let total = calls.len();
        calls.sort_unstable();
        calls.dedup();
        assert_eq!(calls.len(), total, "a path and action are registered twice");
        let mut roots: Vec<&str> = KINDS
            .iter()
            .flat_map(|kind| kind.seeds)
            .filter_map(|seed| match seed.recognise {
                crate::seed::Recognise::Root(root) => Some(root),
                crate::seed::Recognise::Test(_) => None,
            })
            .collect();
        let total = roots.len();
        roots.sort_unstable();
        roots.dedup();
        assert_eq!(roots.len(), total, "a root element is read by two kinds");
    }

    #[test]
    fn pages_carry_a_followable_next_url() {
        let ctx = Ctx { base: "http://h".into(), user: "u".into() };
        let params = Params::parse("action=list&truncation_limit=2", None);
        let page = page((1..=5).map(|i| (i, i)), &params, &ctx, "/p/", 1000).expect("valid");
        assert_eq!(page.items, vec![1, 2]);
        let url = page.warning.and_then(|w| w.child_value("URL"));
        assert_eq!(url.as_deref(), Some("http://h/p/?action=list&truncation_limit=2&id_min=3"));
    }

    #[test]
    fn id_sets_compress_runs() {
        let set = id_set([1, 2, 3, 5, 7, 8]);
        let values: Vec<(String, String)> = set.elements().map(|e| (e.name.clone(), e.value())).collect();
        assert_eq!(values, [("ID_RANGE", "1-3"), ("ID", "5"), ("ID_RANGE", "7-8")].map(|(a, b)| (a.into(), b.into())));
    }

    #[test]
    fn capitalizes_like_list_outputs() {
        assert_eq!(capitalize("medium-high"), "Medium-High");
        assert_eq!(capitalize("high"), "High");
    }
}
