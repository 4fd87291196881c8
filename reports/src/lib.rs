//! dmsim-reports: metrics, summaries, comparison tables and charts.
