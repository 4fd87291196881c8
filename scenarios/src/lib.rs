//! dmsim-scenarios: scenario schema, workload generators and streaming trace readers.
