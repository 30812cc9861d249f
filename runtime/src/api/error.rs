//! Errors as Docker's daemon answers them: `{"message": "..."}` with its status codes.

use hyper::{Response, StatusCode};

use super::body::{Body, full};

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

pub type ApiResult = Result<Response<Body>, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The response: Docker's JSON error body.
    pub fn response(&self) -> Response<Body> {
        let body = serde_json::json!({ "message": self.message }).to_string();
        Response::builder()
            .status(self.status)
            .header("Content-Type", "application/json")
            .body(full(body))
            .unwrap_or_else(|_| Response::new(full("")))
    }
}

/// The engine's errors, with the status Docker gives the same failure.
impl From<tug::Error> for ApiError {
    fn from(e: tug::Error) -> ApiError {
        use tug::container::Error as C;
        let status = match &e {
            tug::Error::Container(C::NotFound(_)) => StatusCode::NOT_FOUND,
            tug::Error::Image(i) | tug::Error::Container(C::Image(i)) => image_status(i),
            tug::Error::Volume(tug::volume::Error::NotFound(_)) => StatusCode::NOT_FOUND,
            tug::Error::Volume(tug::volume::Error::InUse(..)) => StatusCode::CONFLICT,
            tug::Error::Volume(
                tug::volume::Error::Invalid(_) | tug::volume::Error::Unsupported(_),
            ) => StatusCode::BAD_REQUEST,
            tug::Error::Network(tug::network::Error::NotFound(_)) => StatusCode::NOT_FOUND,
            // Docker's daemon: a pre-defined network or one with endpoints is Forbidden.
            tug::Error::Network(
                tug::network::Error::Predefined(_) | tug::network::Error::InUse(..),
            ) => StatusCode::FORBIDDEN,
            tug::Error::Network(
                tug::network::Error::Exists(_) | tug::network::Error::AddressInUse(..),
            ) => StatusCode::CONFLICT,
            tug::Error::Network(
                tug::network::Error::Invalid(_) | tug::network::Error::Ambiguous(..),
            ) => StatusCode::BAD_REQUEST,
            tug::Error::Container(C::Conflict(_)) => StatusCode::CONFLICT,
            tug::Error::Container(C::Invalid(_) | C::Ambiguous(_) | C::Unsupported(_)) => {
                StatusCode::BAD_REQUEST
            }
            tug::Error::Config(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, tug::report(&e))
    }
}

/// An image error's status: a name or change that cannot be read, or a prefix that names
/// several images, is the request's fault; an image in use is a conflict.
fn image_status(e: &tug::image::Error) -> StatusCode {
    use tug::image::Error as I;
    match e {
        I::NotFound(_) => StatusCode::NOT_FOUND,
        I::InvalidReference(..) | I::Change(..) | I::Ambiguous(..) => StatusCode::BAD_REQUEST,
        I::Conflict(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<tug::image::Error> for ApiError {
    fn from(e: tug::image::Error) -> ApiError {
        tug::Error::from(e).into()
    }
}

impl From<tug::container::Error> for ApiError {
    fn from(e: tug::container::Error) -> ApiError {
        tug::Error::from(e).into()
    }
}

impl From<tug::network::Error> for ApiError {
    fn from(e: tug::network::Error) -> ApiError {
        tug::Error::from(e).into()
    }
}

impl From<tug::volume::Error> for ApiError {
    fn from(e: tug::volume::Error) -> ApiError {
        tug::Error::from(e).into()
    }
}
