//! dmsim-sim: the deterministic simulation kernel and simulated devices.
