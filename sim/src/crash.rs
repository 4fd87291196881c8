//! Power loss of the whole simulated machine, for crash tests: every device of a
//! [`SimPlatform`] crashes at the same instant and restarts with a fresh timing model.
//!
//! Owns: crashing all devices together ([`SimDevice::crash`]: in-flight IO lost, in-flight
//! writes torn per sector in a seeded order, the volatile write cache kept block by block as
//! [`PowerLoss`] says) and replacing each device's model, whose queues still hold the lost
//! IOs. Content survives; the platform's clock goes on; a pulled drive stays pulled.
//!
//! Deliberately not here: the engine. The engine that was running is dropped by the caller
//! (its IOs will never complete); a new engine is built over the same platform — for
//! flashcache, with persistence `Reload`. The platform forgets the lost IOs it handed out.
//!
//! [`SimDevice::crash`]: crate::device::SimDevice::crash

use crate::device::{CrashReport, PowerLoss};
use crate::platform::SimPlatform;
use dmsim_models::TimingModel;
use rand_core::RngCore;

/// Why a crash could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrashError {
    #[error("{models} fresh timing models given for {devices} devices")]
    ModelCount { models: usize, devices: usize },
    #[error(
        "device {device}: the fresh model has {model_sectors} sectors, the device {device_sectors}"
    )]
    CapacityMismatch {
        device: usize,
        model_sectors: u64,
        device_sectors: u64,
    },
}

/// Crashes every device of `platform` at once and restarts each with the matching model of
/// `fresh_models` (same order as the devices, same capacities). `rng` decides torn sectors
/// and cache survival; `cache_survival` is the probability that one cached block reaches
/// the media whole (0.0: the whole volatile cache is lost). Returns one report per device.
pub fn crash_all(
    platform: &mut SimPlatform,
    fresh_models: Vec<Box<dyn TimingModel>>,
    rng: &mut dyn RngCore,
    cache_survival: f64,
) -> Result<Vec<CrashReport>, CrashError> {
    crash_all_with(
        platform,
        fresh_models,
        rng,
        &PowerLoss::with_cache_survival(cache_survival),
    )
}

/// [`crash_all`] with the whole power-loss model: `loss` says how volatile caches fare.
pub fn crash_all_with(
    platform: &mut SimPlatform,
    fresh_models: Vec<Box<dyn TimingModel>>,
    rng: &mut dyn RngCore,
    loss: &PowerLoss,
) -> Result<Vec<CrashReport>, CrashError> {
    let devices = platform.devices().len();
    if fresh_models.len() != devices {
        return Err(CrashError::ModelCount {
            models: fresh_models.len(),
            devices,
        });
    }
    for (device, model) in fresh_models.iter().enumerate() {
        let device_sectors = platform.devices()[device].capacity_sectors();
        if model.capacity_sectors() != device_sectors {
            return Err(CrashError::CapacityMismatch {
                device,
                model_sectors: model.capacity_sectors(),
                device_sectors,
            });
        }
    }
    platform.forget_in_flight();
    let mut reports = Vec::with_capacity(devices);
    for (index, model) in fresh_models.into_iter().enumerate() {
        let device = platform.device_mut(index);
        reports.push(device.crash(rng, loss));
        device.replace_model(model);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::SimDevice;
    use dmsim_engine::arena::Arena;
    use dmsim_engine::block::{DeviceId, IoStatus, Op};
    use dmsim_engine::content::{SectorContent, SectorStamp};
    use dmsim_engine::io::{DeviceIo, Input, IoTag};
    use dmsim_engine::platform::Platform;
    use dmsim_engine::Buffer;
    use dmsim_models::ram::{RamModel, RamParams};
    use rand_core::SeedableRng;

    fn ram() -> Box<dyn TimingModel> {
        Box::new(RamModel::new(RamParams {
            capacity_sectors: 1024,
            latency_ns: 1_000,
            volatile_write_cache: false,
        }))
    }

    fn write(tag: u32, sector: u64, arena: &mut Arena, write_id: u64) -> DeviceIo {
        let pages = arena.alloc(1).expect("a page");
        for i in 0..8 {
            arena.set_sector(
                pages[0],
                i,
                SectorContent::Stamp(SectorStamp {
                    sector: sector + i as u64,
                    write_id,
                }),
            );
        }
        DeviceIo {
            tag: IoTag {
                slot: tag,
                generation: 0,
            },
            device: DeviceId(0),
            op: Op::Write,
            sector,
            sectors: 8,
            fua: false,
            sync: false,
            buffer: Buffer::from_pages(pages),
        }
    }

    #[test]
    fn a_crashed_platform_serves_new_io_and_keeps_completed_writes() {
        let mut platform = SimPlatform::new(vec![SimDevice::new("ram", ram())]);
        let mut arena = Arena::new(8);
        let mut inputs = Vec::new();
        platform.submit(write(1, 0, &mut arena, 1), &mut arena);
        platform.wait(None, &mut arena, &mut inputs);
        assert_eq!(inputs.len(), 1, "the first write completed");
        // A second write is in flight when the power goes.
        platform.submit(write(2, 8, &mut arena, 2), &mut arena);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let reports = crash_all(&mut platform, vec![ram()], &mut rng, 0.0).expect("crashes");
        assert_eq!(reports[0].in_flight_lost, 1);
        assert!(platform.is_quiescent(), "nothing of the old run completes");
        // The device works again, with the same tag as a lost IO.
        inputs.clear();
        platform.submit(write(2, 16, &mut arena, 3), &mut arena);
        platform.wait(None, &mut arena, &mut inputs);
        assert_eq!(inputs.len(), 1);
        assert!(matches!(inputs[0], Input::Completion(c) if c.status == IoStatus::Ok));
        let mut first = Vec::new();
        platform.devices()[0].read_durable(0, 1, &mut |_, view| first.push(view.content()));
        assert_eq!(
            first,
            vec![SectorContent::Stamp(SectorStamp {
                sector: 0,
                write_id: 1
            })]
        );
        assert!(matches!(
            crash_all(&mut platform, Vec::new(), &mut rng, 0.0),
            Err(CrashError::ModelCount { .. })
        ));
    }
}
