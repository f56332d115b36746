//! The TFLite file format: own schema, generated code, reading, writing, verification.
