//! The `Range` header of GetObject/HeadObject.
//!
//! S3 serves one range per request: `bytes=a-b`, `bytes=a-` and the suffix form
//! `bytes=-n` answer 206 with `Content-Range`; a well-formed range that starts at or
//! beyond the end of the object (or a zero-length suffix) is unsatisfiable, 416
//! `InvalidRange`; a syntactically invalid range header is ignored and the whole object
//! is served, as RFC 9110 §14.2 requires of a server (S3 does the same).

/// What a `Range` header asks for, resolved against an object length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    /// No (usable) range: serve everything with 200.
    Full,
    /// Serve bytes `start..=end` with 206.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// 416 InvalidRange.
    Unsatisfiable,
}

fn number(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Resolves `header` against an object of `len` bytes.
pub fn resolve(header: Option<&str>, len: u64) -> Resolved {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Resolved::Full;
    };
    if spec.contains(',') {
        return Resolved::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Resolved::Full;
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => Resolved::Full,
        (true, false) => match number(last) {
            None => Resolved::Full,
            Some(0) => Resolved::Unsatisfiable,
            Some(_) if len == 0 => Resolved::Unsatisfiable,
            Some(n) => Resolved::Partial {
                start: len.saturating_sub(n),
                end: len - 1,
            },
        },
        (false, open) => {
            let Some(start) = number(first) else {
                return Resolved::Full;
            };
            let end = if open {
                u64::MAX
            } else {
                match number(last) {
                    Some(end) if end >= start => end,
                    _ => return Resolved::Full,
                }
            };
            if start >= len {
                Resolved::Unsatisfiable
            } else {
                Resolved::Partial {
                    start,
                    end: end.min(len - 1),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_s3() {
        let p = |start, end| Resolved::Partial { start, end };
        assert_eq!(resolve(Some("bytes=0-4"), 10), p(0, 4));
        assert_eq!(resolve(Some("bytes=5-100"), 10), p(5, 9));
        assert_eq!(resolve(Some("bytes=7-"), 10), p(7, 9));
        assert_eq!(resolve(Some("bytes=-3"), 10), p(7, 9));
        assert_eq!(resolve(Some("bytes=-30"), 10), p(0, 9));
        assert_eq!(resolve(Some("bytes=10-"), 10), Resolved::Unsatisfiable);
        assert_eq!(resolve(Some("bytes=-0"), 10), Resolved::Unsatisfiable);
        assert_eq!(resolve(Some("bytes=0-"), 0), Resolved::Unsatisfiable);
    }

    #[test]
    fn garbage_ranges_are_ignored() {
        for g in [
            "bytes=abc",
            "bytes=5-2",
            "items=0-1",
            "bytes=-",
            "bytes=0-1,3-4",
            "bytes=x-",
        ] {
            assert_eq!(resolve(Some(g), 10), Resolved::Full, "{g}");
        }
        assert_eq!(resolve(None, 10), Resolved::Full);
    }

    proptest::proptest! {
        #[test]
        fn partial_ranges_always_lie_inside_the_object(header in "bytes=[0-9]{0,3}-[0-9]{0,3}", len in 0u64..500) {
            if let Resolved::Partial { start, end } = resolve(Some(&header), len) {
                proptest::prop_assert!(start <= end && end < len);
            }
        }
    }
}
