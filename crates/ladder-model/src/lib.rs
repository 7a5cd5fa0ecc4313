//! ladder_model (being written).
