//! jframe over std::net (see issue: std adapter).
