//! Response bodies: whole (JSON, text) or streamed from a channel (logs, wait, pulls).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper::body::{Body as HttpBody, Frame};
use tokio::sync::mpsc;

/// The body type of every response.
pub type Body = BoxBody<Bytes, Infallible>;

/// A whole body.
pub fn full(data: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(data.into()).boxed()
}

/// An empty body.
pub fn empty() -> Body {
    http_body_util::Empty::new().boxed()
}

/// A body whose chunks come from the returned sender; it ends when the sender is dropped.
pub fn channel() -> (mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = mpsc::channel(64);
    (tx, ChannelBody(rx).boxed())
}

struct ChannelBody(mpsc::Receiver<Bytes>);

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// One frame of Docker's multiplexed stream (a container without a TTY): the stream
/// (1 stdout, 2 stderr), three zero bytes, the length (u32 big-endian), the bytes.
pub fn mux_frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + data.len());
    v.push(stream);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn mux_frame_header_is_dockers() {
        assert_eq!(super::mux_frame(2, b"hi"), b"\x02\0\0\0\0\0\0\x02hi");
    }
}
