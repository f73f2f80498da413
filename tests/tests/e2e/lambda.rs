//! Lambda layer end-to-end tests (filled by its issue).
