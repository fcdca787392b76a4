//! What a client hears when something goes wrong: OpenAI's error object with the HTTP
//! status it belongs to, and the field at fault where there is one.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lcb_openai::wire::{ErrorBody, ErrorResponse};

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error object's body.
    pub body: ErrorBody,
    /// Seconds after which the client may retry (overload).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A 400 about `param`.
    pub fn invalid(param: Option<&str>, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            param,
            None,
            message,
        )
    }

    /// Any status.
    pub fn new(
        status: StatusCode,
        kind: &str,
        param: Option<&str>,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                message: message.into(),
                kind: kind.to_owned(),
                param: param.map(str::to_owned),
                code: code.map(str::to_owned),
            },
            retry_after: None,
        }
    }

    /// A 404 for a model this server does not serve.
    pub fn unknown_model(asked: &str, served: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model"),
            Some("model_not_found"),
            format!("the model `{asked}` does not exist; this server serves `{served}`"),
        )
    }

    /// A 503 with `Retry-After` when the queue is full.
    pub fn overloaded(message: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_overloaded",
            None,
            Some("queue_full"),
            message,
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// A 500: the engine failed.
    pub fn engine(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            None,
            None,
            message,
        )
    }

    /// The error object on its own (a streamed error event).
    pub fn object(&self) -> ErrorResponse {
        ErrorResponse {
            error: self.body.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.object())).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
