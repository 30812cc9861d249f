//! `tag` and `rmi`: naming images and removing them as Docker does (untag first, delete
//! the image with its last name, refuse what a container uses unless forced).

use std::fmt;

use crate::Digest;

use super::store::image_descriptors;
use super::{Error, Reference, Store};

/// What removing an image did, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    /// A name was removed.
    Untagged(Reference),
    /// The image itself was deleted.
    Deleted(Digest),
}

impl fmt::Display for RemoveEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoveEvent::Untagged(r) => write!(f, "Untagged: {r}"),
            RemoveEvent::Deleted(d) => write!(f, "Deleted: {d}"),
        }
    }
}

/// A container that uses an image, as `rmi`'s refusal names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    /// Its 12-hex id.
    pub short_id: String,
    pub running: bool,
}

/// Names the image `source` (a reference or id) `target` too.
pub(crate) fn tag(store: &Store, source: &str, target: &str) -> Result<(), Error> {
    let target_ref = Reference::parse(target)?;
    if target_ref.digest.is_some() {
        return Err(Error::InvalidReference(
            target.to_string(),
            "refusing to create a tag with a digest reference".into(),
        ));
    }
    let mut txn = store.begin()?;
    let mut desc = store.find(&txn.index, source)?.clone();
    desc.annotations = None;
    txn.index.tag(&desc, &target_ref);
    txn.commit()
}

/// Removes `name` from `store` as [`crate::Engine::remove_image`] says; `users` names the
/// containers that use an image.
pub(crate) fn remove(
    store: &Store,
    name: &str,
    force: bool,
    users: impl Fn(&Digest) -> Result<Vec<ImageUser>, Error>,
) -> Result<Vec<RemoveEvent>, Error> {
    let mut txn = store.begin()?;
    let desc = store.find(&txn.index, name)?.clone();
    let by_tag = Reference::parse(name)
        .ok()
        .filter(|r| r.digest.is_none() && store.find_by_ref(&txn.index, r).is_some());
    let image = match (store.image(&txn.index, &desc), &by_tag) {
        (Ok(image), _) => image,
        // A damaged image (its manifest or config unreadable) can still lose its name.
        (Err(_), Some(r)) => {
            txn.index.untag(r);
            let still_named = txn
                .index
                .manifests
                .iter()
                .any(|d| d.digest == desc.digest && d.name().is_some());
            if !still_named {
                txn.index.remove_digest(&desc.digest);
            }
            txn.commit()?;
            txn.collect_garbage()?;
            return Ok(vec![RemoveEvent::Untagged(r.clone())]);
        }
        (Err(e), None) => return Err(e),
    };
    let short = image.id.short().to_string();
    let users = users(&image.id)?;
    let mut events = Vec::new();
    let delete = match by_tag {
        Some(r) if image.names.len() > 1 => {
            txn.index.untag(&r);
            events.push(RemoveEvent::Untagged(r));
            false
        }
        Some(r) => {
            if let Some(c) = users.first()
                && !force
            {
                // The reference as it was given, as Docker quotes it.
                return Err(Error::Conflict(format!(
                    "unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {short}",
                    c.short_id
                )));
            }
            txn.index.untag(&r);
            events.push(RemoveEvent::Untagged(r));
            users.is_empty()
        }
        None => {
            if image.names.len() > 1 && !force {
                return Err(Error::Conflict(format!(
                    "unable to delete {short} (must be forced) - image is referenced in multiple repositories"
                )));
            }
            if let Some(c) = users.first()
                && !force
            {
                let state = if c.running { "running" } else { "stopped" };
                return Err(Error::Conflict(format!(
                    "unable to delete {short} (must be forced) - image is being used by {state} container {}",
                    c.short_id
                )));
            }
            for n in &image.names {
                txn.index.untag(n);
                events.push(RemoveEvent::Untagged(n.clone()));
            }
            users.is_empty()
        }
    };
    if delete {
        let same_id: Vec<String> = image_descriptors(&txn.index)
            .filter(|d| store.config_digest(d).as_ref() == Some(&image.id))
            .map(|d| d.digest.clone())
            .collect();
        for d in same_id {
            txn.index.remove_digest(&d);
        }
        events.push(RemoveEvent::Deleted(image.id.clone()));
    }
    txn.commit()?;
    if delete {
        txn.collect_garbage()?;
    }
    Ok(events)
}
