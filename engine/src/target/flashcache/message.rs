//! The text of `Control::TargetMessage` for the flashcache target, parsed into a
//! [`Command`] (the grammar: `crate::flashcache::command`) and carried out by the running
//! state machine, whose requests are then pumped.
//!
//! Deliberately not here: the grammar or what a command does.

use super::{FlashcacheTarget, LifeStage};
use crate::block::IoStatus;
use crate::flashcache::command::parse;
use crate::services::Services;
use crate::target::io::BioKey;

impl FlashcacheTarget {
    /// A target message (grammar: [`crate::flashcache::command`]), carried out by the running
    /// state machine; refused (with the reason) while setting up or after a failed setup.
    pub fn message(
        &mut self,
        text: &str,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) -> Result<(), String> {
        let command = parse(text)?;
        let now_ns = services.now_ns();
        let LifeStage::Running(fc) = &mut self.stage else {
            return Err(format!(
                "flashcache: {text:?} refused: the target is {:?}, not running",
                self.state()
            ));
        };
        let result = fc.carry_out(command, now_ns);
        self.pump(services, finished);
        result.map_err(|error| format!("flashcache: {text:?} refused: {error}"))
    }
}
