//! kinesis conformance cases (filled by its issue).
