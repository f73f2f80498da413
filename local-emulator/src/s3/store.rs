//! The S3 data model: buckets, objects and in-progress multipart uploads.
//!
//! Locking is per bucket: the bucket map is behind one `RwLock` that is held only long
//! enough to clone an `Arc<Bucket>`, and each bucket guards its own objects (a
//! `BTreeMap`, so listing walks keys in UTF-8 byte order, as S3 does) and uploads.
//! Objects are immutable `Arc<Object>` values holding their body as `Bytes`, so a read
//! clones a pointer under the lock and serves the body without copying it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use bytes::Bytes;

use super::checksum::StoredChecksum;

/// One stored object.
#[derive(Debug, Clone)]
pub struct Object {
    /// Content.
    pub body: Bytes,
    /// Quoted ETag.
    pub etag: String,
    /// Last-Modified (whole seconds, as S3 reports).
    pub last_modified: SystemTime,
    /// Content-Type.
    pub content_type: String,
    /// Stored response headers: `x-amz-meta-*` plus Content-Encoding, Cache-Control, ….
    pub headers: Vec<(String, String)>,
    /// Flexible checksum, when the upload carried one.
    pub checksum: Option<StoredChecksum>,
    /// Bucket-wide write sequence number, used to detect racing conditional writes.
    pub version: u64,
}

/// A part uploaded to a multipart upload.
#[derive(Debug, Clone)]
pub struct Part {
    /// Content.
    pub body: Bytes,
    /// Quoted hex MD5.
    pub etag: String,
    /// When it was uploaded.
    pub last_modified: SystemTime,
}

/// An in-progress multipart upload.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Object key.
    pub key: String,
    /// Content-Type for the completed object.
    pub content_type: String,
    /// Stored headers for the completed object.
    pub headers: Vec<(String, String)>,
    /// When it was created.
    pub initiated: SystemTime,
    /// Parts by number.
    pub parts: BTreeMap<u32, Part>,
}

/// One bucket.
#[derive(Debug)]
pub struct Bucket {
    /// Name.
    pub name: String,
    /// CreationDate.
    pub created: SystemTime,
    /// Region (LocationConstraint, or the emulator's region).
    pub region: String,
    objects: RwLock<BTreeMap<String, Arc<Object>>>,
    uploads: Mutex<HashMap<String, Upload>>,
    next_version: AtomicU64,
}

impl Bucket {
    /// An empty bucket.
    pub fn new(name: &str, region: &str, created: SystemTime) -> Self {
        Self {
            name: name.to_owned(),
            created,
            region: region.to_owned(),
            objects: RwLock::new(BTreeMap::new()),
            uploads: Mutex::new(HashMap::new()),
            next_version: AtomicU64::new(1),
        }
    }

    /// Reads the objects. A poisoned lock only means another request panicked (a bug
    /// that the server already reports); the map itself is always consistent, because
    /// every mutation is a single insert or remove.
    pub fn objects(&self) -> RwLockReadGuard<'_, BTreeMap<String, Arc<Object>>> {
        self.objects.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the objects.
    pub fn objects_mut(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Arc<Object>>> {
        self.objects.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The multipart uploads.
    pub fn uploads(&self) -> MutexGuard<'_, HashMap<String, Upload>> {
        self.uploads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh write sequence number.
    pub fn next_version(&self) -> u64 {
        self.next_version.fetch_add(1, Ordering::Relaxed)
    }

    /// The object at `key`, if any.
    pub fn get(&self, key: &str) -> Option<Arc<Object>> {
        self.objects().get(key).cloned()
    }
}

/// All buckets.
#[derive(Debug, Default)]
pub struct Store {
    buckets: RwLock<BTreeMap<String, Arc<Bucket>>>,
}

impl Store {
    /// The bucket named `name`.
    pub fn bucket(&self, name: &str) -> Option<Arc<Bucket>> {
        self.read().get(name).cloned()
    }

    /// Read access to the bucket map.
    pub fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Arc<Bucket>>> {
        self.buckets.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the bucket map.
    pub fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Arc<Bucket>>> {
        self.buckets.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// `t` truncated to whole seconds: S3 reports Last-Modified with second precision, and
/// conditional requests compare HTTP dates, which have no fractions.
pub fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

/// ISO-8601 with milliseconds, as S3's XML timestamps (`2026-11-21T23:37:42.000Z`).
pub fn iso8601(t: SystemTime) -> String {
    let dt = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn iso8601_has_milliseconds_and_zulu() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(iso8601(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(whole_seconds(t)), "2023-11-14T22:13:20.000Z");
    }
}
