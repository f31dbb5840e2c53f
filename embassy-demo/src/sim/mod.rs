//! Host-only simulator parts (filled in below).
