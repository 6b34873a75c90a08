//! What an answer from the target means: classified by its body first, then by its HTTP status,
//! because Qualys reports errors inside 200 responses, limits as 409 with a body code, and some
//! successes (report-template create) inside a `CODE` element.

use crate::xml::{self, Document, Element};

/// Why the target blocked a call. A blocked call was not executed, so it is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    /// CODE 1960: too many calls to this API running at once.
    Concurrency,
    /// CODE 1965: too many calls to this API in the window.
    Rate,
    /// CODE 1920: blocked by other API requests (older form of the two above).
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Success,
    /// Not executed; send again after the wait the headers ask for.
    Blocked {
        block: Block,
        code: String,
    },
    /// 2003: the target's API user has not completed registration (EULA).
    RegistrationPending {
        text: String,
    },
    /// The target refused the request; it was not executed.
    Failed {
        code: Option<String>,
        text: String,
    },
    /// No usable answer: the request may or may not have been executed.
    Unknown {
        reason: String,
    },
}

/// The verdict and, when the body was XML, the parsed document (for captures and probes).
#[derive(Debug, Clone)]
pub struct Classified {
    pub verdict: Verdict,
    pub document: Option<Document>,
}

/// What the body alone says.
enum BodySays {
    Ok,
    Error {
        code: Option<String>,
        text: String,
    },
    /// A document with no success or error marker (a list output).
    Nothing,
}

pub fn classify(status: u16, body: &[u8]) -> Classified {
    if looks_like_html(body) {
        return Classified { verdict: from_status_alone(status, "an HTML page"), document: None };
    }
    let document = match xml::parse(body) {
        Ok(document) => document,
        Err(e) => {
            let what =
                if body.iter().all(u8::is_ascii_whitespace) { "an empty body".to_owned() } else { e.to_string() };
            return Classified { verdict: from_status_alone(status, &what), document: None };
        }
    };
    let verdict = match body_says(&document.root) {
        BodySays::Error { code, text } => from_error(status, code, text),
        BodySays::Ok | BodySays::Nothing if !document.complete => {
            Verdict::Unknown { reason: format!("HTTP {status}: the response was cut off") }
        }
        BodySays::Ok | BodySays::Nothing if (200..=299).contains(&status) => Verdict::Success,
        BodySays::Ok | BodySays::Nothing => from_status_alone(status, "a response"),
    };
    Classified { verdict, document: Some(document) }
}

fn looks_like_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body.iter().skip_while(|b| b.is_ascii_whitespace()).take(14).copied().collect();
    let start = String::from_utf8_lossy(&start).to_ascii_lowercase();
    start.starts_with("<!doctype html") || start.starts_with("<html")
}

fn body_says(root: &Element) -> BodySays {
    match root.name.as_str() {
        "SIMPLE_RETURN" => simple_return(root.child("RESPONSE").unwrap_or(root)),
        "BATCH_RETURN" => {
            let response = root.child("RESPONSE").unwrap_or(root);
            let batches = response.child("BATCH_LIST").into_iter().flat_map(|l| l.children_named("BATCH"));
            std::iter::once(response)
                .chain(batches)
                .map(simple_return)
                .find(|says| matches!(says, BodySays::Error { .. }))
                .unwrap_or(BodySays::Ok)
        }
        "ServiceResponse" => {
            let code = root.child("responseCode").map(Element::trimmed_text).unwrap_or_default();
            if code == "SUCCESS" {
                return BodySays::Ok;
            }
            let details = root.child("responseErrorDetails");
            let message = details.and_then(|d| d.child("errorMessage")).map(Element::trimmed_text);
            let resolution = details.and_then(|d| d.child("errorResolution")).map(Element::trimmed_text);
            let text = match (message, resolution) {
                (Some(m), Some(r)) if !r.is_empty() => format!("{m} ({r})"),
                (Some(m), _) => m.to_owned(),
                (None, _) => "the QPS request failed without details".to_owned(),
            };
            let code = if code.is_empty() { "no responseCode".to_owned() } else { code.to_owned() };
            BodySays::Error { code: Some(code), text }
        }
        _ => {
            // V1 (`/msp/*.php`): `RETURN@status` is SUCCESS or FAILED, whatever the HTTP status.
            if let Some(ret) = root.child("RETURN").filter(|r| r.attribute("status").is_some()) {
                if ret.attribute("status") == Some("SUCCESS") {
                    return BodySays::Ok;
                }
                let text = ret.child("MESSAGE").map_or_else(|| ret.trimmed_text(), Element::trimmed_text);
                return BodySays::Error { code: ret.attribute("number").map(str::to_owned), text: text.to_owned() };
            }
            // V1 list calls (`user_list.php`) report failures as a top-level ERROR element.
            if let Some(error) = root.child("ERROR") {
                let code = error.attribute("number").map(str::to_owned);
                return BodySays::Error { code, text: error.trimmed_text().to_owned() };
            }
            BodySays::Nothing
        }
    }
}

/// A numeric `CODE` is an error; any other `CODE` (report-template create: "... Created
/// Successfully [ID]") is a success message.
fn simple_return(response: &Element) -> BodySays {
    match response.child("CODE").map(Element::trimmed_text) {
        Some(code) if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) => {
            let text = response.child("TEXT").map(Element::trimmed_text).unwrap_or_default();
            BodySays::Error { code: Some(code.to_owned()), text: text.to_owned() }
        }
        _ => BodySays::Ok,
    }
}

fn from_error(status: u16, code: Option<String>, text: String) -> Verdict {
    let block = match (code.as_deref(), status) {
        (Some("1960"), 409) => Some(Block::Concurrency),
        (Some("1965"), 409 | 400) => Some(Block::Rate),
        (Some("1920"), 409) => Some(Block::Other),
        _ => None,
    };
    match (block, code) {
        (Some(block), Some(code)) => Verdict::Blocked { block, code },
        (_, Some(code)) if code == "2003" => Verdict::RegistrationPending { text },
        // A server error may come after the change was made: whatever the body says, that is
        // no proof the request was not executed.
        (_, code) if (500..=599).contains(&status) => {
            let code = code.map(|c| format!(", code {c}")).unwrap_or_default();
            Verdict::Unknown { reason: format!("HTTP {status} (server error{code}: {text})") }
        }
        (_, code) => Verdict::Failed { code, text },
    }
}

fn from_status_alone(status: u16, what: &str) -> Verdict {
    match status {
        200..=299 => Verdict::Unknown { reason: format!("HTTP {status} with {what}") },
        500..=599 => Verdict::Unknown { reason: format!("HTTP {status} (server error) with {what}") },
        300..=399 => failed(status, "the target answered with a redirect, which is not followed: check --target"),
        401 => {
            failed(status, "the target refused the credentials (check the username, the password and the platform URL)")
        }
        404 => failed(status, "no such API on the target: check that --target is the platform's API server URL"),
        414 => failed(status, "the request URI is too long for the target"),
        _ => failed(status, &format!("HTTP {status} with {what}")),
    }
}

fn failed(status: u16, text: &str) -> Verdict {
    Verdict::Failed { code: None, text: format!("HTTP {status}: {text}") }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Responses written by others (`tests/corpus/`), or for the cases they have no sample of
    /// (`schemas/tests/fixtures/responses/`).
    fn document(relative: &str) -> Vec<u8> {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let path = match relative.strip_prefix("fixture:") {
            Some(fixture) => manifest.join("tests/fixtures/responses").join(fixture),
            None => manifest.join("../tests/corpus").join(relative),
        };
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn verdict(status: u16, relative: &str) -> Verdict {
        classify(status, &document(relative)).verdict
    }

    fn failed(code: &str) -> impl Fn(&Verdict) -> bool + '_ {
        move |v| matches!(v, Verdict::Failed { code: Some(c), text } if c == code && !text.is_empty())
    }

    #[test]
    fn every_simple_return_error_in_the_corpus_is_an_error_or_a_block() {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dirs = [
            manifest.join("../tests/corpus/simple_return_error"),
            manifest.join("tests/fixtures/responses/simple_return"),
        ];
        for entry in dirs.iter().flat_map(|dir| std::fs::read_dir(dir).expect("corpus")) {
            let path = entry.expect("entry").path();
            let body = std::fs::read(&path).expect("reads");
            let verdict = classify(409, &body).verdict;
            let ok = matches!(
                verdict,
                Verdict::Failed { code: Some(_), .. } | Verdict::Blocked { .. } | Verdict::RegistrationPending { .. }
            );
            assert!(ok, "{}: {verdict:?}", path.display());
            // Errors come with 200 as well: the body decides.
            assert!(!matches!(classify(200, &body).verdict, Verdict::Success), "{}", path.display());
        }
    }

    #[test]
    fn simple_return_errors_by_code_and_status() {
        let rate = "fixture:simple_return/rate_limit_1965.xml";
        assert_eq!(verdict(409, rate), Verdict::Blocked { block: Block::Rate, code: "1965".into() });
        assert_eq!(verdict(400, rate), Verdict::Blocked { block: Block::Rate, code: "1965".into() });
        assert!(failed("1965")(&verdict(200, rate)), "1965 outside 409/400 is not a documented block");
        let concurrency = "fixture:simple_return/concurrency_limit_1960.xml";
        assert_eq!(verdict(409, concurrency), Verdict::Blocked { block: Block::Concurrency, code: "1960".into() });
        assert!(
            matches!(verdict(409, "fixture:simple_return/registration_2003.xml"), Verdict::RegistrationPending { text } if text.starts_with("Registration must be completed"))
        );
        assert!(failed("1903")(&verdict(400, "fixture:simple_return/missing_parameter_1903.xml")));
        assert!(failed("2011")(&verdict(409, "fixture:simple_return/secure_id_2011.xml")));
        assert!(failed("2000")(&verdict(401, "simple_return_error/ruby-qualys__unlogged.yml.response.xml")));
        // Cut off before its end tag: the error code is still read.
        assert!(failed("1905")(&verdict(
            400,
            "simple_return_error/demisto-content__Qualysv2_test.bad_format_raw_xml_response.xml"
        )));
    }

    #[test]
    fn simple_return_successes() {
        for file in [
            "demisto-content__Qualysv2_test.raw_xml_response_success.xml",
            "kcare-qualys__test_api.create_search.xml",
            "ruby-qualys__create_global_report.yml.response.xml",
            "tf-provider-qualys-sjackson__ip_test.go.network_created_mock.xml",
            "ruby-qualys__login.yml.response.xml",
        ] {
            assert_eq!(verdict(200, &format!("simple_return_success/{file}")), Verdict::Success, "{file}");
        }
        let template = b"<SIMPLE_RETURN><RESPONSE><CODE>Scan Report Template(s) Created Successfully [89876]</CODE><TEXT></TEXT></RESPONSE></SIMPLE_RETURN>";
        assert_eq!(classify(200, template).verdict, Verdict::Success);
        let cut = b"<SIMPLE_RETURN><RESPONSE><TEXT>Network created</TEXT><ITEM_LIST>";
        assert!(matches!(classify(200, cut).verdict, Verdict::Unknown { .. }), "a cut-off success proves nothing");
    }

    #[test]
    fn qps_responses() {
        let error = "fixture:qps/invalid_request.xml";
        assert!(
            matches!(verdict(200, error), Verdict::Failed { code: Some(c), text } if c == "INVALID_REQUEST" && text.contains("modified"))
        );
        assert!(failed("UNAUTHORIZED")(&verdict(200, "fixture:qps/unauthorized.xml")));
        assert!(failed("INVALID_CREDENTIALS")(&verdict(401, "fixture:qps/invalid_credentials.xml")));
        assert_eq!(
            verdict(200, "qps_tag_response/demisto-content__Qualysv2_test.TestAssetTags.raw_response.xml"),
            Verdict::Success
        );
    }

    #[test]
    fn v1_batch_and_list_responses() {
        let created = b"<USER_OUTPUT><API name=\"user.php\"/><RETURN status=\"SUCCESS\"><MESSAGE>acme_jd2 user has been successfully created.</MESSAGE></RETURN></USER_OUTPUT>";
        assert_eq!(classify(200, created).verdict, Verdict::Success);
        let refused = b"<USER_OUTPUT><RETURN status=\"FAILED\" number=\"2\"><MESSAGE>Bad business unit</MESSAGE></RETURN></USER_OUTPUT>";
        assert_eq!(
            classify(200, refused).verdict,
            Verdict::Failed { code: Some("2".into()), text: "Bad business unit".into() }
        );
        let domain = b"<GENERIC_RETURN><RETURN status=\"FAILED\">Domain exists</RETURN></GENERIC_RETURN>";
        assert!(matches!(classify(200, domain).verdict, Verdict::Failed { code: None, .. }));
        let batch = b"<BATCH_RETURN><RESPONSE><BATCH_LIST><BATCH><TEXT>ok</TEXT><ID_SET><ID>1</ID></ID_SET></BATCH><BATCH><CODE>1905</CODE><TEXT>bad</TEXT></BATCH></BATCH_LIST></RESPONSE></BATCH_RETURN>";
        assert_eq!(classify(200, batch).verdict, Verdict::Failed { code: Some("1905".into()), text: "bad".into() });
        let list = document("user_list/tf-provider-qualys-sjackson__user_test.go.sampleUserListXML.xml");
        assert_eq!(classify(200, &list).verdict, Verdict::Success);
        assert!(matches!(
            classify(200, b"<USER_LIST_OUTPUT><ERROR number=\"999\">Internal</ERROR></USER_LIST_OUTPUT>").verdict,
            Verdict::Failed { .. }
        ));
    }

    #[test]
    fn html_pages_and_bare_statuses() {
        let page = b"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\"><html><head><title>414 Request-URI Too Long</title></head></html>";
        assert!(
            matches!(classify(414, page).verdict, Verdict::Failed { code: None, text } if text.contains("too long"))
        );
        assert!(
            matches!(classify(401, b"<html><body>Unauthorized</body></html>").verdict, Verdict::Failed { text, .. } if text.contains("credentials"))
        );
        assert!(
            matches!(classify(404, b"<html></html>").verdict, Verdict::Failed { text, .. } if text.contains("--target"))
        );
        assert!(matches!(classify(503, b"<html></html>").verdict, Verdict::Unknown { .. }));
        let internal =
            b"<SIMPLE_RETURN><RESPONSE><CODE>999</CODE><TEXT>Internal error</TEXT></RESPONSE></SIMPLE_RETURN>";
        assert!(
            matches!(classify(500, internal).verdict, Verdict::Unknown { reason } if reason.contains("999")),
            "an error body with a server error proves nothing about the change"
        );
        assert!(matches!(classify(502, b"").verdict, Verdict::Unknown { .. }));
        assert!(matches!(classify(200, b"").verdict, Verdict::Unknown { .. }), "an empty success proves nothing");
        assert!(matches!(
            classify(409, b"<SIMPLE_RETURN><RESPONSE><TEXT>x</TEXT></RESPONSE></SIMPLE_RETURN>").verdict,
            Verdict::Failed { .. }
        ));
    }
}
