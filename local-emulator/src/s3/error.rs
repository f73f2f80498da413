//! S3's REST-XML error shape.
//!
//! AWS answers every failed S3 request with a status code and (except for HEAD, whose
//! responses never carry a body) an XML document
//! `<Error><Code/><Message/>…resource fields…<RequestId/><HostId/></Error>`. The SDKs
//! read the code from that document, so the code, status and extra fields (`Key`,
//! `BucketName`, `Condition`, …) must be exactly AWS's.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::xml::XmlWriter;

/// One S3 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    /// HTTP status.
    pub status: u16,
    /// The `<Code>`.
    pub code: &'static str,
    /// The `<Message>`.
    pub message: String,
    /// Extra elements after `<Message>`, e.g. `("Key", "a/b")`.
    pub fields: Vec<(&'static str, String)>,
}

/// Result type of every S3 operation.
pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    /// An error with no extra fields.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// Adds an extra element to the error document.
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.fields.push((name, value.into()));
        self
    }

    /// 404 NoSuchBucket.
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(404, "NoSuchBucket", "The specified bucket does not exist")
            .with("BucketName", bucket)
    }

    /// 404 NoSuchKey.
    pub fn no_such_key(key: &str) -> Self {
        Self::new(404, "NoSuchKey", "The specified key does not exist.").with("Key", key)
    }

    /// 404 NoSuchUpload.
    pub fn no_such_upload(upload_id: &str) -> Self {
        Self::new(
            404,
            "NoSuchUpload",
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
        )
        .with("UploadId", upload_id)
    }

    /// 400 MalformedXML.
    pub fn malformed_xml() -> Self {
        Self::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    }

    /// 400 InvalidArgument naming the offending argument.
    pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> Self {
        Self::new(400, "InvalidArgument", message)
            .with("ArgumentName", name)
            .with("ArgumentValue", value)
    }

    /// 412 PreconditionFailed for the named condition header.
    pub fn precondition_failed(condition: &str) -> Self {
        Self::new(
            412,
            "PreconditionFailed",
            "At least one of the pre-conditions you specified did not hold",
        )
        .with("Condition", condition)
    }

    /// 501 NotImplemented.
    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            501,
            "NotImplemented",
            "A header or query you provided requested a function that is not implemented.",
        )
        .with("Header", what)
    }

    /// The XML document AWS sends for this error.
    pub fn body(&self, request_id: &str) -> String {
        let mut w = XmlWriter::new();
        w.open("Error");
        w.leaf("Code", self.code);
        w.leaf("Message", &self.message);
        for (name, value) in &self.fields {
            w.leaf(name, value);
        }
        w.leaf("RequestId", request_id);
        w.leaf("HostId", HOST_ID);
        w.close("Error");
        w.finish()
    }

    /// The HTTP response; `head` drops the body as AWS does for HEAD requests.
    pub fn into_response(self, request_id: &str, head: bool) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = if head {
            Response::new(Body::empty())
        } else {
            let mut r = Response::new(Body::from(self.body(request_id)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            r
        };
        *response.status_mut() = status;
        response
    }
}

/// The opaque `x-amz-id-2` / `<HostId>` value the emulator reports.
pub const HOST_ID: &str = "shardwise-local";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_document_escapes_the_key_and_carries_code_and_request_id() {
        let body = S3Error::no_such_key("a<&>b").body("REQ1");
        assert!(body.starts_with("<?xml"));
        assert!(body.contains("<Code>NoSuchKey</Code>"));
        assert!(body.contains("<Key>a&lt;&amp;&gt;b</Key>"));
        assert!(body.contains("<RequestId>REQ1</RequestId>"));
    }
}
