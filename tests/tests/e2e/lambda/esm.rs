//! Kinesis event source mappings (need the Kinesis service from main).
