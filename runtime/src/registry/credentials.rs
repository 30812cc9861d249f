//! Registry credentials in Docker's `config.json` format: `{"auths": {"host": {"auth":
//! base64("user:password")}}}` under `$DOCKER_CONFIG` or `~/.docker`. Credential helpers
//! (`credsStore`) are not supported; other keys of the file are kept as they are.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::Error;

/// The key Docker uses for Docker Hub in `auths`.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// The `Authorization: Basic` value.
    pub fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// The config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn config_path() -> PathBuf {
    let dir = match std::env::var_os("DOCKER_CONFIG") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            PathBuf::from(home).join(".docker")
        }
    };
    dir.join("config.json")
}

/// The `auths` key for a registry host, as Docker writes it.
fn key_for(host: &str) -> String {
    if host == "docker.io" || host == "index.docker.io" {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.to_string()
    }
}

/// The host an `auths` key names (`https://host/v1/` → `host`).
fn host_of_key(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k);
    if k == "index.docker.io" || k == "registry-1.docker.io" {
        "docker.io"
    } else {
        k
    }
}

fn read_config() -> Result<Map<String, Value>, Error> {
    let path = config_path();
    match std::fs::read(&path) {
        Ok(data) if data.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(data) => match serde_json::from_slice::<Value>(&data) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(Error::Config(format!(
                "{}: not a JSON object",
                path.display()
            ))),
            Err(e) => Err(Error::Config(format!("{}: {e}", path.display()))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(Error::Io(format!("reading {}", path.display()), e)),
    }
}

fn write_config(config: &Map<String, Value>) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let path = config_path();
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Io(format!("creating {}", dir.display()), e))?;
    let mut data = serde_json::to_vec_pretty(config).map_err(|e| Error::Config(e.to_string()))?;
    data.push(b'\n');
    crate::fsutil::write_atomic(&path, &data)
        .and_then(|()| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)))
        .map_err(|e| Error::Io(format!("writing {}", path.display()), e))
}

/// The stored credentials for `host`, if any.
pub fn lookup(host: &str) -> Result<Option<Credentials>, Error> {
    let config = read_config()?;
    let Some(Value::Object(auths)) = config.get("auths") else {
        return Ok(None);
    };
    for (key, entry) in auths {
        if host_of_key(key) != host_of_key(host) {
            continue;
        }
        let Some(auth) = entry.get("auth").and_then(Value::as_str) else {
            continue;
        };
        let bad = || {
            Error::Config(format!(
                "{}: auths.{key}.auth is not base64 of user:password",
                config_path().display()
            ))
        };
        let raw = STANDARD.decode(auth.trim()).map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        let (u, p) = text.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        }));
    }
    Ok(None)
}

/// Stores credentials for `host` (replacing any it had).
pub fn store(host: &str, creds: &Credentials) -> Result<(), Error> {
    let _lock = lock()?;
    let mut config = read_config()?;
    let auths = config
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let auths = auths.as_object_mut().expect("made an object just above");
    auths.retain(|k, _| host_of_key(k) != host_of_key(host));
    let auth = STANDARD.encode(format!("{}:{}", creds.username, creds.password));
    auths.insert(key_for(host), serde_json::json!({ "auth": auth }));
    write_config(&config)
}

/// Removes the credentials for `host`; false if there were none.
pub fn erase(host: &str) -> Result<bool, Error> {
    let _lock = lock()?;
    let mut config = read_config()?;
    let Some(Value::Object(auths)) = config.get_mut("auths") else {
        return Ok(false);
    };
    let before = auths.len();
    auths.retain(|k, _| host_of_key(k) != host_of_key(host));
    if auths.len() == before {
        return Ok(false);
    }
    write_config(&config)?;
    Ok(true)
}

/// A lock beside the config file, so two logins do not lose each other's entries.
fn lock() -> Result<crate::fsutil::LockGuard, Error> {
    let path = config_path().with_extension("json.lock");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Io(format!("creating {}", dir.display()), e))?;
    }
    crate::fsutil::lock_exclusive(&path)
        .map_err(|e| Error::Io(format!("locking {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_keys_are_one_host() {
        assert_eq!(host_of_key(DOCKER_HUB_KEY), "docker.io");
        assert_eq!(host_of_key("docker.io"), "docker.io");
        assert_eq!(host_of_key("http://localhost:5000/v2/"), "localhost:5000");
        assert_eq!(key_for("docker.io"), DOCKER_HUB_KEY);
    }
}
