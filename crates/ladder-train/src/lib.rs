//! ladder_train (being written).
