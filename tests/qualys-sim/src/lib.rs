//! qualys-sim
