//! Pluggable record codecs: how a Kinesis record's bytes become the operator's event.
//! JSON is the default; anything implementing [`Codec`] can replace it.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;

use crate::error::Error;

/// Decodes record bytes into events. A decode failure is a poison record.
pub trait Codec<E>: Send + Sync {
    /// Decodes one record's data.
    fn decode(&self, bytes: &[u8]) -> Result<E, Error>;
}

/// The default codec: the record data is one JSON document.
#[derive(Debug)]
pub struct JsonCodec<E>(PhantomData<fn() -> E>);

impl<E> Default for JsonCodec<E> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<E: DeserializeOwned> Codec<E> for JsonCodec<E> {
    fn decode(&self, bytes: &[u8]) -> Result<E, Error> {
        serde_json::from_slice(bytes).map_err(|e| Error::Decode(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_codec_decodes_documents_and_reports_garbage_as_poison() {
        let codec = JsonCodec::<serde_json::Value>::default();
        assert_eq!(codec.decode(br#"{"a":1}"#).unwrap()["a"], 1);
        let err = codec.decode(b"\xff not json").unwrap_err();
        assert_eq!(err.class(), crate::error::RetryClass::Poison);
    }
}
