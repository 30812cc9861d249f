//! Starting requests, as testcontainers' blocking runner does: `use
//! tug_testkit::runners::SyncRunner;` and `.start()`.

pub use crate::buildable::SyncBuilder;
use crate::client::Tug;
use crate::container::Container;
use crate::error::Result;
use crate::image::Image;
use crate::request::ContainerRequest;

/// Starts an image or a request and hands back its [`Container`].
pub trait SyncRunner<I: Image> {
    /// Creates and starts the container on [`Tug::shared`] (pulling the image if it is
    /// not in the store; `busybox` is made from the host's busybox-static), then waits
    /// until it is ready. On failure nothing is left behind, and the error shows the last
    /// log lines.
    fn start(self) -> Result<Container<I>>;

    /// Makes sure the image is in the store (pulls it if not), and gives the request back.
    fn pull_image(self) -> Result<ContainerRequest<I>>;

    /// tug: [`SyncRunner::start`] on the given client (a private state root, say).
    fn start_on(self, tug: &Tug) -> Result<Container<I>>;
}

impl<T: Into<ContainerRequest<I>>, I: Image> SyncRunner<I> for T {
    fn start(self) -> Result<Container<I>> {
        self.start_on(Tug::shared()?)
    }

    fn pull_image(self) -> Result<ContainerRequest<I>> {
        let req = self.into();
        Tug::shared()?.prepare_image(&req.descriptor())?;
        Ok(req)
    }

    fn start_on(self, tug: &Tug) -> Result<Container<I>> {
        crate::start::start(tug, self.into())
    }
}
