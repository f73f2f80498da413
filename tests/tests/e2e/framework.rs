//! Framework end-to-end and oracle tests (filled by its issue).
