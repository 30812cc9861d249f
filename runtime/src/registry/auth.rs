//! Registry auth: parsing `WWW-Authenticate` challenges (Basic and Bearer) and caching
//! Bearer tokens per scope until they expire.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="..."`: send the user's credentials on every request.
    Basic,
    /// `Bearer realm=...,service=...,scope=...`: get a token from `realm`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value; None for a scheme we do not speak.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        _ => None,
    }
}

/// `key="quoted, value",key2=token` → a map (keys lower-cased).
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ','))
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string();
        }
        out.insert(key, value);
    }
    out
}

/// The token server's answer (`token` or the OAuth2 `access_token`).
#[derive(Debug, serde::Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// Tokens the process got, by scope set, kept until shortly before they expire.
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: HashMap<String, (String, Instant)>,
}

/// How long a token lives when the server does not say: the spec's default.
const DEFAULT_TOKEN_LIFETIME: u64 = 60;

impl TokenCache {
    /// A live token for `scopes`, if cached.
    pub fn get(&self, scopes: &str) -> Option<String> {
        self.tokens
            .get(scopes)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(t, _)| t.clone())
    }

    /// Caches a token for `scopes`, to be dropped 10 s (or 10%) before it expires.
    pub fn put(&mut self, scopes: &str, token: String, expires_in: Option<u64>) {
        let life = expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME).max(1);
        let margin = (life / 10).clamp(1, 10);
        let until = Instant::now() + Duration::from_secs(life.saturating_sub(margin));
        self.tokens.insert(scopes.to_string(), (token, until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_challenge() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    #[test]
    fn cache_expires() {
        let mut c = TokenCache::default();
        c.put("a", "t".into(), Some(300));
        assert_eq!(c.get("a").as_deref(), Some("t"));
        assert_eq!(c.get("b"), None);
        c.put("z", "t".into(), Some(1));
        assert_eq!(c.get("z"), None, "a 1 s token is dropped at once");
    }

    proptest::proptest! {
        #[test]
        fn any_header_parses_without_panic(s in ".*") {
            let _ = parse_challenge(&s);
        }

        #[test]
        fn bearer_params_round_trip(
            realm in "[a-z:/.0-9]{1,30}",
            service in "[a-zA-Z0-9 ,=.-]{1,20}",
            scope in "[a-z/:,]{1,30}",
        ) {
            let esc = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
            let h = format!(r#"Bearer realm="{}", service="{}",scope="{}""#, esc(&realm), esc(&service), esc(&scope));
            proptest::prop_assert_eq!(
                parse_challenge(&h),
                Some(Challenge::Bearer { realm, service: Some(service), scope: Some(scope) })
            );
        }
    }
}
