//! dynamodb conformance cases (filled by its issue).
