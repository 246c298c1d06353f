//! Sluse: a privacy-preserving data-exchange gateway for Danish municipalities.
//!
//! The modules, in reading order (each line says what the module is):
