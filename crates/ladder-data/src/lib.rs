//! ladder_data (being written).
