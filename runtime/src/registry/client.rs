//! The HTTP side of the distribution API: one [`Client`] per registry and repository, with
//! auth (anonymous, Basic, Bearer with cached tokens) and retries with back-off on
//! broken connections, 5xx and 429.

use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use ureq::http::{Method, Response};

use super::auth::{Challenge, TokenCache, TokenResponse, parse_challenge};
use super::credentials::{self, Credentials};
use super::endpoint::{Endpoint, InsecurePolicy};
use super::{Error, Target};

/// How many times a request is retried after a transport error, a 5xx or a 429.
const RETRIES: u32 = 3;
/// The first back-off; doubled on each retry (250 ms, 500 ms, 1 s).
const BACKOFF: Duration = Duration::from_millis(250);
/// The most of an error or manifest body that is read into memory.
pub const SMALL_BODY_LIMIT: u64 = 8 << 20;

/// A request body that can be made again for a retry.
pub enum Payload<'a> {
    Empty,
    Bytes(Vec<u8>),
    /// A stream and its length (sent as `Content-Length`).
    Reader(Box<dyn Read + Send + 'a>, u64),
}

/// One request: what it is for (in errors), and the token scopes it needs.
pub struct Req<'a> {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub scopes: &'a [String],
    /// What the request does, for errors: `GET manifest 1`.
    pub what: String,
    /// A limit on receiving the whole response body, so a stalled stream ends (and is
    /// resumed) instead of hanging; None: no limit.
    pub body_timeout: Option<Duration>,
}

#[derive(Debug, Default)]
struct AuthState {
    challenge: Option<Challenge>,
    tokens: TokenCache,
}

/// A client of one registry, working for one reference (which errors name).
pub struct Client {
    agent: ureq::Agent,
    pub endpoint: Endpoint,
    credentials: Option<Credentials>,
    auth: Mutex<AuthState>,
    /// Held while a token is fetched, so parallel requests wait for one token.
    token_fetch: Mutex<()>,
    pub target: Target,
}

impl Client {
    /// A client of `registry` for `reference`, with the credentials `login` stored.
    pub fn new(
        registry: &str,
        reference: String,
        policy: &InsecurePolicy,
    ) -> Result<Client, Error> {
        let credentials = credentials::lookup(registry)?;
        Ok(Client::with_credentials(
            registry,
            reference,
            policy,
            credentials,
        ))
    }

    /// A client of `registry` for `reference` with `credentials` when given (the API's
    /// `X-Registry-Auth`), else with those `login` stored ([`Client::new`]).
    pub fn with_override(
        registry: &str,
        reference: String,
        policy: &InsecurePolicy,
        credentials: Option<&Credentials>,
    ) -> Result<Client, Error> {
        match credentials {
            Some(c) => Ok(Client::with_credentials(
                registry,
                reference,
                policy,
                Some(c.clone()),
            )),
            None => Client::new(registry, reference, policy),
        }
    }

    /// A client with the given credentials (None: anonymous).
    pub fn with_credentials(
        registry: &str,
        reference: String,
        policy: &InsecurePolicy,
        credentials: Option<Credentials>,
    ) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .user_agent(format!("tug/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            endpoint: Endpoint::new(registry, policy),
            credentials,
            auth: Mutex::new(AuthState::default()),
            token_fetch: Mutex::new(()),
            target: Target {
                reference,
                registry: registry.to_string(),
            },
        }
    }

    /// The URL of an API path, or a `Location` the registry sent (absolute or not).
    pub fn url(&self, path_or_location: &str) -> String {
        if path_or_location.starts_with("http://") || path_or_location.starts_with("https://") {
            path_or_location.to_string()
        } else {
            self.endpoint.url(path_or_location)
        }
    }

    /// `GET /v2/`: checks that the registry answers and that our credentials are good.
    pub fn ping(&self) -> Result<(), Error> {
        self.ping_for(&[])
    }

    /// [`Client::ping`], getting a token for `scopes` (the ones the work needs) if the
    /// registry uses tokens, so the work starts with it cached.
    pub fn ping_for(&self, scopes: &[String]) -> Result<(), Error> {
        let resp = self.send(
            &Req {
                method: Method::GET,
                url: self.url("/v2/"),
                headers: vec![],
                scopes,
                what: "GET /v2/".into(),
                body_timeout: None,
            },
            &|| Ok(Payload::Empty),
        )?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            _ => Err(self.error_from(resp, "GET /v2/")),
        }
    }

    /// Sends a request with auth, retrying transport errors, 5xx and 429 with back-off,
    /// and answering a 401 once with the auth its challenge asks for. Other statuses are
    /// returned for the caller to judge.
    pub fn send<'p>(
        &self,
        req: &Req<'_>,
        body: &dyn Fn() -> std::io::Result<Payload<'p>>,
    ) -> Result<Response<ureq::Body>, Error> {
        let mut attempt = 0;
        let mut answered_challenge = false;
        loop {
            let auth = self.auth_header(req.scopes)?;
            let payload = body().map_err(|e| self.target.io(format!("{} (body)", req.what), e))?;
            let result = self.run_once(req, auth.as_deref(), payload);
            let retryable = match &result {
                Err(_) => true,
                Ok(r) => r.status().is_server_error() || r.status().as_u16() == 429,
            };
            if retryable && attempt < RETRIES {
                std::thread::sleep(BACKOFF * 2u32.pow(attempt));
                attempt += 1;
                continue;
            }
            let resp = result.map_err(|e| Error::Unreachable {
                reference: self.target.reference.clone(),
                registry: self.target.registry.clone(),
                detail: format!("{}: {}", req.what, transport_detail(&e)),
            })?;
            if resp.status().as_u16() == 401 && !answered_challenge {
                answered_challenge = true;
                let challenge = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_challenge);
                if let Some(c) = challenge {
                    let mut state = self.auth.lock().unwrap_or_else(|p| p.into_inner());
                    state.challenge = Some(c);
                    state.tokens = TokenCache::default();
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    fn run_once<'p>(
        &self,
        req: &Req<'_>,
        auth: Option<&str>,
        payload: Payload<'p>,
    ) -> Result<Response<ureq::Body>, ureq::Error> {
        let mut b = ureq::http::Request::builder()
            .method(req.method.clone())
            .uri(&req.url);
        for (k, v) in &req.headers {
            b = b.header(*k, v);
        }
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        let (mut reader, len): (Box<dyn Read + Send + 'p>, u64) = match payload {
            Payload::Empty => {
                if [Method::PUT, Method::POST, Method::PATCH].contains(&req.method) {
                    b = b.header("content-length", "0");
                }
                let request = b.body(ureq::SendBody::none()).map_err(ureq::Error::from)?;
                return match req.body_timeout {
                    None => self.agent.run(request),
                    Some(t) => {
                        use ureq::RequestExt;
                        request
                            .with_agent(&self.agent)
                            .configure()
                            .timeout_recv_body(Some(t))
                            .run()
                    }
                };
            }
            Payload::Bytes(v) => {
                let n = v.len() as u64;
                (Box::new(std::io::Cursor::new(v)), n)
            }
            Payload::Reader(r, len) => (r, len),
        };
        b = b.header("content-length", len.to_string());
        let request = b
            .body(ureq::SendBody::from_reader(&mut reader))
            .map_err(ureq::Error::from)?;
        self.agent.run(request)
    }

    /// The `Authorization` value for `scopes` under the last challenge, fetching a token
    /// if the cache has none.
    fn auth_header(&self, scopes: &[String]) -> Result<Option<String>, Error> {
        let _fetching = self.token_fetch.lock().unwrap_or_else(|p| p.into_inner());
        let challenge = {
            let state = self.auth.lock().unwrap_or_else(|p| p.into_inner());
            match &state.challenge {
                None => return Ok(None),
                Some(Challenge::Basic) => {
                    return Ok(self.credentials.as_ref().map(Credentials::basic_header));
                }
                Some(c @ Challenge::Bearer { .. }) => {
                    if let Some(t) = state.tokens.get(&scopes.join(" ")) {
                        return Ok(Some(format!("Bearer {t}")));
                    }
                    c.clone()
                }
            }
        };
        let Challenge::Bearer {
            realm,
            service,
            scope,
        } = challenge
        else {
            return Ok(None);
        };
        let (token, expires_in) = self.fetch_token(&realm, service.as_deref(), scopes, scope)?;
        let mut state = self.auth.lock().unwrap_or_else(|p| p.into_inner());
        state
            .tokens
            .put(&scopes.join(" "), token.clone(), expires_in);
        Ok(Some(format!("Bearer {token}")))
    }

    /// The token flow: `GET realm?service=…&scope=…`, with Basic credentials if we have
    /// them (anonymous otherwise).
    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        challenge_scope: Option<String>,
    ) -> Result<(String, Option<u64>), Error> {
        let mut req = self.agent.get(realm);
        if let Some(s) = service {
            req = req.query("service", s);
        }
        let scopes: Vec<String> = if scopes.is_empty() {
            challenge_scope.into_iter().collect()
        } else {
            scopes.to_vec()
        };
        for s in &scopes {
            req = req.query("scope", s);
        }
        if let Some(c) = &self.credentials {
            req = req.header("authorization", c.basic_header());
        }
        let unreachable = |detail: String| Error::Unreachable {
            reference: self.target.reference.clone(),
            registry: self.target.registry.clone(),
            detail: format!("token server {realm}: {detail}"),
        };
        let mut resp = req.call().map_err(|e| unreachable(transport_detail(&e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(SMALL_BODY_LIMIT)
            .read_to_vec()
            .map_err(|e| unreachable(transport_detail(&e)))?;
        match status {
            200 => {}
            401 | 403 => {
                return Err(Error::Unauthorized {
                    reference: self.target.reference.clone(),
                    registry: self.target.registry.clone(),
                    detail: format!(
                        "the token server {realm} refused {}: {}",
                        match &self.credentials {
                            Some(c) => format!("the credentials of {}", c.username),
                            None => "anonymous access".into(),
                        },
                        String::from_utf8_lossy(&body).trim()
                    ),
                });
            }
            s => return Err(unreachable(format!("answered {s}"))),
        }
        let t: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| unreachable(format!("bad token answer: {e}")))?;
        let token = t
            .token
            .or(t.access_token)
            .ok_or_else(|| unreachable("the answer has no token".into()))?;
        Ok((token, t.expires_in))
    }

    /// The error a non-success response means, from its status and the distribution
    /// API's `{"errors": [{"code", "message"}]}` body.
    pub fn error_from(&self, mut resp: Response<ureq::Body>, what: &str) -> Error {
        let status = resp.status().as_u16();
        let insufficient_scope = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("insufficient_scope"));
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_vec()
            .unwrap_or_default();
        #[derive(serde::Deserialize)]
        struct Errors {
            errors: Vec<ApiError>,
        }
        #[derive(serde::Deserialize)]
        struct ApiError {
            #[serde(default)]
            code: String,
            #[serde(default)]
            message: String,
        }
        let parsed = serde_json::from_slice::<Errors>(&body).ok();
        let first = parsed.as_ref().and_then(|e| e.errors.first());
        let code = first.map(|e| e.code.as_str()).unwrap_or("");
        let detail = match first {
            Some(e) => format!("{} ({})", e.message, e.code),
            None => String::from_utf8_lossy(&body)
                .trim()
                .chars()
                .take(300)
                .collect(),
        };
        let reference = self.target.reference.clone();
        let registry = self.target.registry.clone();
        match (status, code) {
            (_, "MANIFEST_UNKNOWN") | (404, _) if what.contains("manifest") => {
                if code == "NAME_UNKNOWN" {
                    Error::RepositoryUnknown {
                        reference,
                        registry,
                    }
                } else {
                    Error::ManifestUnknown {
                        reference,
                        registry,
                    }
                }
            }
            (_, "NAME_UNKNOWN") => Error::RepositoryUnknown {
                reference,
                registry,
            },
            (_, "DENIED") | (403, _) | (401, _)
                if code == "DENIED" || status == 403 || insufficient_scope =>
            {
                Error::Denied {
                    reference,
                    registry,
                    detail,
                }
            }
            (_, "UNAUTHORIZED") | (401, _) => Error::Unauthorized {
                reference,
                registry,
                detail,
            },
            _ => Error::Protocol {
                reference,
                registry,
                what: what.to_string(),
                status,
                detail,
            },
        }
    }
}

/// A short description of a transport error (connection refused, timeout, …).
pub fn transport_detail(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client::with_credentials(
            "reg.example:5000",
            "reg.example:5000/app:1".into(),
            &InsecurePolicy::default(),
            None,
        )
    }

    fn response(status: u16, challenge: Option<&str>, body: &str) -> Response<ureq::Body> {
        let mut b = Response::builder().status(status);
        if let Some(c) = challenge {
            b = b.header("www-authenticate", c);
        }
        b.body(ureq::Body::builder().data(body.as_bytes().to_vec()))
            .expect("a valid response")
    }

    fn api_error(code: &str) -> String {
        format!(r#"{{"errors":[{{"code":"{code}","message":"m"}}]}}"#)
    }

    #[test]
    fn api_errors_map_to_variants_that_name_reference_and_registry() {
        let c = client();
        let e = c.error_from(
            response(404, None, &api_error("MANIFEST_UNKNOWN")),
            "GET manifest app:1",
        );
        assert!(matches!(e, Error::ManifestUnknown { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("reg.example:5000/app:1") && text.contains("has no such"),
            "{text}"
        );
        let e = c.error_from(
            response(404, None, &api_error("NAME_UNKNOWN")),
            "GET manifest app:1",
        );
        assert!(matches!(e, Error::RepositoryUnknown { .. }), "{e}");
        let e = c.error_from(response(403, None, &api_error("DENIED")), "PUT manifest");
        assert!(matches!(e, Error::Denied { .. }), "{e}");
        let e = c.error_from(
            response(
                401,
                Some(r#"Bearer realm="r",error="insufficient_scope""#),
                &api_error("UNAUTHORIZED"),
            ),
            "HEAD blob",
        );
        assert!(matches!(e, Error::Denied { .. }), "{e}");
        let e = c.error_from(
            response(401, Some(r#"Basic realm="r""#), &api_error("UNAUTHORIZED")),
            "GET /v2/",
        );
        assert!(e.to_string().contains("tug login reg.example:5000"), "{e}");
        let e = c.error_from(response(500, None, "oops"), "PUT blob");
        assert!(matches!(e, Error::Protocol { status: 500, .. }), "{e}");
        assert!(e.to_string().contains("oops"));
    }

    #[test]
    fn locations_may_be_relative_or_absolute() {
        let c = client();
        assert_eq!(
            c.url("/v2/a/blobs/uploads/x"),
            "https://reg.example:5000/v2/a/blobs/uploads/x"
        );
        assert_eq!(c.url("http://other/v2/u"), "http://other/v2/u");
    }
}
