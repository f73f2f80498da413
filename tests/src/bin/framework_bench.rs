//! Framework commit-path benchmark (filled below).
fn main() {}
