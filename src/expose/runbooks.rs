//! `/runbooks`: docs/runbooks.md, compiled in and rendered to HTML once, each heading with the
//! anchor a code host would give it, so the pages' runbook links work offline.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd, html};

/// The runbooks as shipped with this binary (the pages and the mixin's alerts link here).
pub const MARKDOWN: &str = include_str!("../../docs/runbooks.md");

/// The rendered page; rendered on first use, the markdown never changes at run time.
static PAGE: LazyLock<String> = LazyLock::new(|| render(MARKDOWN));

/// GitHub's heading anchor: lower case, letters/digits/`-`/`_` kept, spaces to `-`, the rest
/// dropped. The same rule as the alerts' `runbook_url` anchors (an alert's name in lower case)
/// and [`super::pages::runbook_anchor`], so one anchor works on both hosts.
pub fn slug(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The markdown as an HTML page, every heading with its [`slug`] as `id`.
pub fn render(markdown: &str) -> String {
    let mut events: Vec<Event> = Vec::new();
    // Index of the open heading's Start event and its text so far.
    let mut open: Option<(usize, String)> = None;
    for ev in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match &ev {
            Event::Start(Tag::Heading { .. }) => open = Some((events.len(), String::new())),
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, text)) = open.as_mut() {
                    text.push_str(t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((at, text)) = open.take()
                    && let Some(Event::Start(Tag::Heading { id, .. })) = events.get_mut(at)
                {
                    *id = Some(slug(&text).into());
                }
            }
            _ => {}
        }
        events.push(ev);
    }
    let mut body = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut body, events.into_iter());
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\"><title>sipfed_exporter runbooks</title><style>body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222;line-height:1.45}}pre{{background:#f5f5f5;padding:.6em;overflow-x:auto}}code{{font-family:ui-monospace,monospace}}:target{{background:#fff3c4}}table{{border-collapse:collapse}}td,th{{padding:.3em .7em;border-bottom:1px solid #ddd}}</style></head><body><nav><a href=\"/\">status</a></nav>{body}</body></html>"
    )
}

/// `GET /runbooks`.
pub async fn page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        PAGE.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_code_host_anchors() {
        assert_eq!(slug("SipFedCertificateExpired"), "sipfedcertificateexpired");
        assert_eq!(slug("srv_port_5061"), "srv_port_5061");
        assert_eq!(slug("What to check, first"), "what-to-check-first");
        let html = render("# Top\n\n### tcp_connect\n\ntext\n\n## `code` heading\n");
        assert!(
            html.contains("<h3 id=\"tcp_connect\">tcp_connect</h3>"),
            "{html}"
        );
        assert!(html.contains("<h2 id=\"code-heading\">"), "{html}");
    }

    #[test]
    fn every_check_has_a_section_the_pages_link_to() {
        let html = PAGE.as_str();
        for c in crate::judge::CHECKS {
            let anchor = super::super::pages::runbook_anchor(c.name);
            assert!(
                html.contains(&format!(" id=\"{anchor}\"")),
                "{} links to /runbooks#{anchor}, which the served page lacks",
                c.name
            );
        }
    }
}
