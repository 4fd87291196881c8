//! dmsim-real: the engine over real block devices. All `unsafe` of the project lives here.
