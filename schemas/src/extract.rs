//! Captured values: taken from a successful response as the bundle declares (`Extract`), or
//! from the record a probe matched. The values a [`Match`] compares with are resolved by the
//! caller (they may name captures of earlier requests), through `value`.

use std::collections::BTreeMap;

use crate::xml::Element;
use crate::{Capture, Extract, Match, ProbeCapture, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError<E: std::error::Error + 'static> {
    #[error("capture `{name}`: {problem}")]
    Missing { name: String, problem: String },
    /// A value the match compares with could not be resolved.
    #[error(transparent)]
    Value(E),
}

/// How many records of a response a [`Match`] selects.
#[derive(Debug)]
pub enum Matched<'a> {
    None,
    One(&'a Element),
    Several(usize),
}

/// Takes every declared capture from a successful response.
pub fn captures<S: AsRef<str>, E: std::error::Error>(
    root: &Element,
    declared: &[Capture],
    value: impl Fn(&Value) -> Result<S, E>,
) -> Result<BTreeMap<String, String>, ExtractError<E>> {
    let mut taken = BTreeMap::new();
    for capture in declared {
        let missing = |problem: &str| ExtractError::Missing { name: capture.name.clone(), problem: problem.to_owned() };
        let value = match &capture.extract {
            Extract::NewId => new_id(root).ok_or_else(|| missing("the response names no new ID"))?,
            Extract::Login => login(root).ok_or_else(|| missing("the response names no new login"))?,
            Extract::Element { name } => first_element(root, name)
                .ok_or_else(|| missing(&format!("the response has no non-empty `{name}` element")))?,
            Extract::Match { matcher, take } => match select(root, matcher, &value).map_err(ExtractError::Value)? {
                Matched::One(record) => field(record, take)
                    .ok_or_else(|| missing(&format!("the matching `{}` has no non-empty `{take}`", matcher.record)))?,
                Matched::None => return Err(missing(&format!("no `{}` in the response matches", matcher.record))),
                Matched::Several(n) => {
                    return Err(missing(&format!("{n} `{}` records match; exactly one must", matcher.record)));
                }
            },
        };
        taken.insert(capture.name.clone(), value);
    }
    Ok(taken)
}

/// The captures a probe reads from the record it matched.
pub fn probe_captures<E: std::error::Error>(
    record: &Element,
    declared: &[ProbeCapture],
) -> Result<BTreeMap<String, String>, ExtractError<E>> {
    declared
        .iter()
        .map(|c| {
            let value = field(record, &c.take).ok_or_else(|| ExtractError::Missing {
                name: c.name.clone(),
                problem: format!("the existing `{}` has no non-empty `{}`", record.name, c.take),
            })?;
            Ok((c.name.clone(), value))
        })
        .collect()
}

/// Whether a list response is one page of a longer list (`WARNING` 1980 with the next page's
/// URL, or QPS `hasMoreRecords`): a record missing from it may be on another page.
pub fn is_one_page(root: &Element) -> bool {
    let warning = root.path("RESPONSE/WARNING/CODE").is_some_and(|c| c.trimmed_text() == "1980");
    warning || root.child("hasMoreRecords").is_some_and(|m| m.trimmed_text() == "true")
}

/// The records named `matcher.record`, at any depth, whose fields all equal the given values
/// (an empty value: the field is absent or empty).
pub fn select<'a, S: AsRef<str>, E>(
    root: &'a Element,
    matcher: &Match,
    value: impl Fn(&Value) -> Result<S, E>,
) -> Result<Matched<'a>, E> {
    let mut wanted = Vec::with_capacity(matcher.conditions.len());
    for condition in &matcher.conditions {
        wanted.push((condition.field.as_str(), value(&condition.equals)?));
    }
    let matching: Vec<&Element> = root
        .descendants()
        .into_iter()
        .filter(|e| e.name == matcher.record)
        .filter(|record| {
            wanted
                .iter()
                .all(|(path, value)| record.path(path).map_or("", |f| f.trimmed_text()) == value.as_ref().trim())
        })
        .collect();
    Ok(match matching.as_slice() {
        [] => Matched::None,
        [one] => Matched::One(one),
        several => Matched::Several(several.len()),
    })
}

fn field(record: &Element, path: &str) -> Option<String> {
    record.path(path).map(Element::trimmed_text).filter(|t| !t.is_empty()).map(str::to_owned)
}

fn first_element(root: &Element, name: &str) -> Option<String> {
    root.descendants()
        .into_iter()
        .find(|e| e.name == name)
        .map(Element::trimmed_text)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The new object's ID, wherever its response family puts it.
fn new_id(root: &Element) -> Option<String> {
    let non_empty = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
    match root.name.as_str() {
        "SIMPLE_RETURN" => {
            let response = root.child("RESPONSE")?;
            let items = response.child("ITEM_LIST").into_iter().flat_map(|l| l.children_named("ITEM"));
            let item = items
                .filter(|i| i.child("KEY").is_some_and(|k| k.trimmed_text().eq_ignore_ascii_case("ID")))
                .find_map(|i| i.child("VALUE").and_then(|v| non_empty(&v.text)));
            item.or_else(|| bracketed_id(response.child("CODE")?.trimmed_text()))
        }
        "BATCH_RETURN" => root
            .path("RESPONSE/BATCH_LIST")?
            .children_named("BATCH")
            .find_map(|b| b.path("ID_SET/ID").and_then(|id| non_empty(&id.text))),
        "APPLIANCE_CREATE_OUTPUT" => first_element(root, "ID"),
        "ServiceResponse" => {
            root.child("data")?.children.iter().find_map(|o| o.child("id").and_then(|id| non_empty(&id.text)))
        }
        _ => None,
    }
}

/// "Scan Report Template(s) Created Successfully [89876]" → 89876.
fn bracketed_id(code: &str) -> Option<String> {
    let inner = code.rsplit_once('[')?.1.strip_suffix(']')?;
    (!inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit())).then(|| inner.to_owned())
}

/// The login `/msp/user.php?action=add` generated: `USER/USER_LOGIN` (when the password is
/// returned), otherwise the first word of "<login> user has been successfully created."
fn login(root: &Element) -> Option<String> {
    if root.name != "USER_OUTPUT" {
        return None;
    }
    if let Some(login) = root.path("USER/USER_LOGIN").map(Element::trimmed_text).filter(|l| !l.is_empty()) {
        return Some(login.to_owned());
    }
    let message = root.path("RETURN/MESSAGE")?.trimmed_text();
    let (login, rest) = message.split_once(char::is_whitespace)?;
    let rest = rest.trim().trim_end_matches('.');
    rest.eq_ignore_ascii_case("user has been successfully created").then(|| login.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse;
    use crate::{Condition, Segment};

    #[derive(Debug, PartialEq, Eq, thiserror::Error)]
    #[error("`{0}` has no value")]
    struct NoValue(String);

    /// Resolves as the executor does: text as it is, captures from `known`.
    fn resolver(known: &BTreeMap<String, String>) -> impl Fn(&Value) -> Result<String, NoValue> + '_ {
        move |value| match value {
            Value::Text(text) => Ok(text.clone()),
            Value::Parts(parts) => parts
                .iter()
                .map(|part| match part {
                    Segment::Text(text) => Ok(text.clone()),
                    Segment::Capture(name) => known.get(name).cloned().ok_or_else(|| NoValue(name.clone())),
                    Segment::Secret(name) => Err(NoValue(name.clone())),
                })
                .collect(),
        }
    }

    fn root(xml: &str) -> Element {
        parse(xml.as_bytes()).expect("parses").root
    }

    fn take(xml: &str, extract: Extract) -> Result<String, ExtractError<NoValue>> {
        let empty = BTreeMap::new();
        let resolver = resolver(&empty);
        let declared = [Capture { name: "c".into(), extract }];
        captures(&root(xml), &declared, &resolver).map(|mut taken| taken.remove("c").expect("taken"))
    }

    fn corpus(relative: &str) -> String {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus").join(relative);
        std::fs::read_to_string(path).expect("corpus file")
    }

    #[test]
    fn new_ids_in_every_family() {
        assert_eq!(
            take(&corpus("simple_return_success/kcare-qualys__test_api.create_search.xml"), Extract::NewId),
            Ok("3034713".into())
        );
        let lower = "<SIMPLE_RETURN><RESPONSE><ITEM_LIST><ITEM><KEY>REF</KEY><VALUE>x</VALUE></ITEM><ITEM><KEY>id</KEY><VALUE> 42 </VALUE></ITEM></ITEM_LIST></RESPONSE></SIMPLE_RETURN>";
        assert_eq!(take(lower, Extract::NewId), Ok("42".into()));
        let template = "<SIMPLE_RETURN><RESPONSE><CODE>Scan Report Template(s) Created Successfully [89876]</CODE></RESPONSE></SIMPLE_RETURN>";
        assert_eq!(take(template, Extract::NewId), Ok("89876".into()));
        let batch = "<BATCH_RETURN><RESPONSE><BATCH_LIST><BATCH><ID_SET><ID>555</ID></ID_SET></BATCH></BATCH_LIST></RESPONSE></BATCH_RETURN>";
        assert_eq!(take(batch, Extract::NewId), Ok("555".into()));
        let appliance = "<APPLIANCE_CREATE_OUTPUT><RESPONSE><APPLIANCE><ID>77</ID><ACTIVATION_CODE>1</ACTIVATION_CODE></APPLIANCE></RESPONSE></APPLIANCE_CREATE_OUTPUT>";
        assert_eq!(take(appliance, Extract::NewId), Ok("77".into()));
        let tag = corpus("qps_tag_response/demisto-content__Qualysv2_test.TestAssetTags.raw_response.xml");
        assert_eq!(take(&tag, Extract::NewId), Ok("71163393".into()));
        let ip_add = corpus("simple_return_success/demisto-content__Qualysv2_test.raw_xml_response_success.xml");
        assert!(matches!(take(&ip_add, Extract::NewId), Err(ExtractError::Missing { .. })));
    }

    #[test]
    fn logins_from_user_output() {
        let message = "<USER_OUTPUT><RETURN status=\"SUCCESS\"><MESSAGE>quays_cw4 user has been successfully created.</MESSAGE></RETURN></USER_OUTPUT>";
        assert_eq!(take(message, Extract::Login), Ok("quays_cw4".into()));
        let returned = "<USER_OUTPUT><RETURN status=\"SUCCESS\"><MESSAGE>x</MESSAGE></RETURN><USER><USER_LOGIN>acme_jd2</USER_LOGIN><PASSWORD>p</PASSWORD></USER></USER_OUTPUT>";
        assert_eq!(take(returned, Extract::Login), Ok("acme_jd2".into()));
        let other = "<USER_OUTPUT><RETURN status=\"SUCCESS\"><MESSAGE>User updated.</MESSAGE></RETURN></USER_OUTPUT>";
        assert!(take(other, Extract::Login).is_err());
    }

    #[test]
    fn elements_and_matches() {
        let list = corpus("user_list/tf-provider-qualys-sjackson__user_test.go.sampleUserListXML.xml");
        assert_eq!(take(&list, Extract::Element { name: "USER_LOGIN".into() }), Ok("acme_ab1".into()));
        let by_login = |login: Value| Extract::Match {
            matcher: Match {
                record: "USER".into(),
                conditions: vec![Condition { field: "USER_LOGIN".into(), equals: login }],
            },
            take: "USER_ID".into(),
        };
        assert_eq!(take(&list, by_login(Value::Text("acme_ab1".into()))), Ok("63".into()));
        assert!(take(&list, by_login(Value::Text("nobody".into()))).is_err());

        let captures = BTreeMap::from([("user/ab#login".to_owned(), "acme_ab1".to_owned())]);
        let resolver = resolver(&captures);
        let declared = [Capture {
            name: "id".into(),
            extract: by_login(Value::Parts(vec![Segment::Capture("user/ab#login".into())])),
        }];
        assert_eq!(super::captures(&root(&list), &declared, &resolver).expect("taken")["id"], "63");

        let twice = "<L><R><N>a</N><V>1</V></R><R><N>a</N><V>2</V></R></L>";
        let matcher = Match {
            record: "R".into(),
            conditions: vec![Condition { field: "N".into(), equals: Value::Text("a".into()) }],
        };
        assert!(matches!(select(&root(twice), &matcher, &resolver), Ok(Matched::Several(2))));

        let tags = "<data><Tag><name>C</name><parentTagId>7</parentTagId></Tag><Tag><name>C</name></Tag></data>";
        let tag = |parent: &str| Match {
            record: "Tag".into(),
            conditions: vec![
                Condition { field: "name".into(), equals: Value::Text("C".into()) },
                Condition { field: "parentTagId".into(), equals: Value::Text(parent.into()) },
            ],
        };
        let parent_of = |m: Matched<'_>| match m {
            Matched::One(tag) => tag.path("parentTagId").map(|p| p.trimmed_text().to_owned()),
            other => panic!("{other:?}"),
        };
        assert_eq!(parent_of(select(&root(tags), &tag(""), &resolver).expect("selects")), None, "the root tag");
        assert_eq!(parent_of(select(&root(tags), &tag("7"), &resolver).expect("selects")), Some("7".into()));
    }

    #[test]
    fn one_page_of_a_longer_list_is_recognised() {
        let warning = "<ASSET_GROUP_LIST_OUTPUT><RESPONSE><ASSET_GROUP_LIST/><WARNING><CODE>1980</CODE><URL>u</URL></WARNING></RESPONSE></ASSET_GROUP_LIST_OUTPUT>";
        assert!(is_one_page(&root(warning)));
        let more = "<ServiceResponse><responseCode>SUCCESS</responseCode><hasMoreRecords>true</hasMoreRecords></ServiceResponse>";
        assert!(is_one_page(&root(more)));
        assert!(!is_one_page(&root(&more.replace("true", "false"))));
        assert!(!is_one_page(&root(&corpus(
            "user_list/tf-provider-qualys-sjackson__user_test.go.sampleUserListXML.xml"
        ))));
    }
}
