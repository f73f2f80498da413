//! Template-driven start.
