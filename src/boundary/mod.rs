//! What crosses the JS boundary beside the method table in `lib.rs`: the values handed to JS, the
//! chunked hand-over of large values, and the panic guard.

pub mod guard;
pub mod handover;
pub mod values;
