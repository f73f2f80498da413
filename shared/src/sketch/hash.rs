//! A stable 64-bit hash for sketches.
//!
//! Sketch state is persisted and merged across deployments, so the hash must never
//! change with the Rust version (std's `DefaultHasher` makes no such promise). FNV-1a
//! over the bytes, then MurmurHash3's `fmix64` finalizer so that every output bit
//! depends on every input bit (FNV alone mixes its high bits poorly, and HyperLogLog
//! reads the high bits for its register index).

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// MurmurHash3's 64-bit finalizer (a bijection with full avalanche).
pub fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The stable hash of `bytes` under `seed` (different seeds give independent hashes).
pub fn hash64(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET ^ fmix64(seed);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    fmix64(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED_EMPTY: u64 = 17_280_346_270_528_514_342;
    const PINNED_TX: u64 = 15_261_201_053_760_698_324;

    #[test]
    fn the_hash_is_pinned_so_persisted_sketches_stay_valid() {
        // Pinned values: changing the function invalidates every stored sketch.
        assert_eq!(hash64(0, b""), PINNED_EMPTY);
        let a = hash64(0, b"tx-20261121-00000001");
        assert_eq!(a, PINNED_TX);
        assert_eq!(a, hash64(0, b"tx-20261121-00000001"));
        assert_ne!(a, hash64(1, b"tx-20261121-00000001"));
        assert_ne!(a, hash64(0, b"tx-20261121-00000002"));
    }

    #[test]
    fn high_bits_are_balanced_over_sequential_ids() {
        let n = 20_000;
        let ones = (0..n)
            .filter(|i| hash64(7, format!("acc-{i:07}").as_bytes()) >> 63 == 1)
            .count();
        assert!((9_500..10_500).contains(&ones), "{ones}");
    }
}
