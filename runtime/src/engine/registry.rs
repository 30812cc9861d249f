//! The engine's registry operations: what the CLI, testkit and workshop call.

use crate::Engine;
use crate::registry::credentials::{self, Credentials};
use crate::registry::local::{BlobSources, StoreAdapter};
use crate::registry::{
    Client, Error, InsecurePolicy, Observer, PullOptions, PullReport, PushOptions, PushReport,
    parse_reference, server_host,
};

impl Engine {
    /// The insecure-registry policy of this engine (loopback plus the config files).
    pub fn registry_policy(&self) -> Result<InsecurePolicy, Error> {
        InsecurePolicy::load(self.root())
    }

    /// Pulls `reference` (`busybox`, `localhost:5000/app:1`, `app@sha256:…`) into the
    /// image store.
    pub fn pull(
        &self,
        reference: &str,
        options: &PullOptions,
        observer: &dyn Observer,
    ) -> Result<PullReport, Error> {
        let r = parse_reference(reference)?;
        let local = StoreAdapter::new(
            self.image_store()
                .map_err(|e| Error::Store(crate::report(&e)))?,
        );
        let snapshots = crate::snapshot::Snapshots::open(self.root())
            .map_err(|e| Error::Unpack(reference.to_string(), e))?;
        let report = crate::registry::pull::pull(
            &local,
            options.unpack.then_some(&snapshots),
            &BlobSources::new(self.root()),
            &self.registry_policy()?,
            &r,
            options,
            observer,
        )?;
        let attrs = [("name".to_string(), r.to_string())].into();
        crate::events::emit(self.root(), "image", "pull", &r.to_string(), attrs);
        Ok(report)
    }

    /// Pushes the stored image `name` to the registry its reference names.
    pub fn push(
        &self,
        name: &str,
        options: &PushOptions,
        observer: &dyn Observer,
    ) -> Result<PushReport, Error> {
        self.push_as(name, name, options, observer)
    }

    /// Pushes the stored image `source` as `target` (a reference on a registry).
    pub fn push_as(
        &self,
        source: &str,
        target: &str,
        options: &PushOptions,
        observer: &dyn Observer,
    ) -> Result<PushReport, Error> {
        let t = parse_reference(target)?;
        let local = StoreAdapter::new(
            self.image_store()
                .map_err(|e| Error::Store(crate::report(&e)))?,
        );
        let report = crate::registry::push::push(
            &local,
            &BlobSources::new(self.root()),
            &self.registry_policy()?,
            source,
            &t,
            options,
            observer,
        )?;
        let attrs = [("name".to_string(), t.to_string())].into();
        crate::events::emit(self.root(), "image", "push", &t.to_string(), attrs);
        Ok(report)
    }

    /// Checks `credentials` against `server` and stores them in Docker's config.json.
    pub fn login(&self, server: &str, creds: &Credentials) -> Result<(), Error> {
        self.check_credentials(server, creds)?;
        credentials::store(&server_host(server), creds)
    }

    /// Checks `credentials` against `server` (`GET /v2/` with them, and a token when the
    /// registry asks for one) and stores nothing: the API's `/auth`, whose client keeps
    /// what it logged in with.
    pub fn check_credentials(&self, server: &str, creds: &Credentials) -> Result<(), Error> {
        let host = server_host(server);
        let client = Client::with_credentials(
            &host,
            host.clone(),
            &self.registry_policy()?,
            Some(creds.clone()),
        );
        client.ping()
    }

    /// Removes the stored credentials of `server`; false if there were none.
    pub fn logout(&self, server: &str) -> Result<bool, Error> {
        credentials::erase(&server_host(server))
    }
}
