//! ladder_laws (being written).
