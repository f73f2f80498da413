//! s3 conformance cases (filled by its issue).
