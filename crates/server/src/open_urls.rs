//! Which requests `server.basic-auth.open-urls` lets through without credentials.
//!
//! # The rule
//!
//! An open URL is a path prefix, as in Kestra's configuration, but it opens **only routes
//! that are meant to be called without credentials**: today the Webhook trigger routes
//! ([`OPENABLE`], whose key is the credential). A request is let through when
//!
//! 1. the route it matched (its template, e.g.
//!    `/api/v1/{tenant}/executions/webhook/{namespace}/{flowId}/{key}`) is in [`OPENABLE`],
//!    and
//! 2. its path starts with one of the open URLs at a segment boundary: the open URL ends
//!    with `/`, or the path continues with `/` or ends right after it (so
//!    `/api/v1/main/executions/webhook/company` covers `…/webhook/company/…` but not
//!    `…/webhook/companyx/…`).
//!
//! Every other route needs credentials whatever the open URLs say: an open URL that is a
//! prefix of other routes (`/api/v1/main/executions/webhook/` is a prefix of
//! `POST /api/v1/main/executions/webhook/deploy`, which starts flow `deploy` of namespace
//! `webhook`; `/` is a prefix of everything) opens only the webhook routes it covers.
//! Matching on the route template, not on the text of the path, is what makes that hold.

/// The route templates an open URL may open.
pub const OPENABLE: [&str; 1] = ["/api/v1/{tenant}/executions/webhook/{namespace}/{flowId}/{key}"];

/// True when `path`, which matched the route `template` (`None`: no route matched), needs
/// no credentials under `open_urls`.
pub fn is_open(open_urls: &[String], template: Option<&str>, path: &str) -> bool {
    let Some(template) = template else {
        return false;
    };
    OPENABLE.contains(&template) && open_urls.iter().any(|url| covers(url, path))
}

/// True when `url` is a prefix of `path` that ends at a segment boundary.
fn covers(url: &str, path: &str) -> bool {
    match path.strip_prefix(url) {
        None => false,
        Some(rest) => url.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEBHOOK: &str = OPENABLE[0];
    const CREATE: &str = "/api/v1/{tenant}/executions/{namespace}/{id}";

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_webhook_routes_are_opened_whatever_the_prefix() {
        for open in [
            urls(&["/api/v1/main/executions/webhook/"]),
            urls(&["/api/v1/main/"]),
            urls(&["/"]),
        ] {
            assert!(is_open(
                &open,
                Some(WEBHOOK),
                "/api/v1/main/executions/webhook/company/flow/key"
            ));
            // The attack: a prefix of the webhook family is also one of flow `deploy` of
            // namespace `webhook`.
            assert!(!is_open(
                &open,
                Some(CREATE),
                "/api/v1/main/executions/webhook/deploy"
            ));
            assert!(!is_open(&open, None, "/api/v1/main/executions/webhook/x"));
        }
    }

    #[test]
    fn prefixes_end_at_a_segment_boundary() {
        let open = urls(&["/api/v1/main/executions/webhook/company"]);
        let path = |ns: &str| format!("/api/v1/main/executions/webhook/{ns}/flow/key");
        assert!(is_open(&open, Some(WEBHOOK), &path("company")));
        assert!(!is_open(&open, Some(WEBHOOK), &path("companyx")));
        assert!(!is_open(&open, Some(WEBHOOK), &path("company.team")));
        let other_tenant = urls(&["/api/v1/other/"]);
        assert!(!is_open(&other_tenant, Some(WEBHOOK), &path("company")));
        assert!(!is_open(&[], Some(WEBHOOK), &path("company")));
    }
}
