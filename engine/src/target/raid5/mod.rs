//! The md raid5 target inside the engine: the adapter between dm core (or a stacked upper
//! target, see `crate::engine`) and the services on one side and the sans-IO raid5 machine
//! ([`crate::raid5`]) on the other.
//!
//! Owns: the array's pieces (one raid5 bio each) and the member IOs in flight, and the
//! calling obligations of [`Raid5`]: every `MemberIo` becomes one raw device IO on the
//! member's device through the services (the caller cookie names an entry of `member_ios`,
//! which holds the machine's tag), every completion goes back exactly once, ticks follow
//! [`Raid5::poll_deadline`], and each `BioDone` finishes its piece. A failed read piece is
//! zero-filled, as linear does, so failed reads are deterministic. Messages: `fail N`
//! (mdadm --fail of member N), `add` or `add devK` (mdadm --add of a reserved spare device:
//! it takes a failed role and is rebuilt, or waits as a hot spare for the next failure),
//! `check` and `repair` (`echo check > sync_action`).
//!
//! Deliberately not here: any raid5 decision (the machine makes them all), FUA of array
//! bios (member data writes carry none; md's write-through of REQ_FUA is not modelled; the
//! machine's metadata writes ask for it), dm_io and kcopyd (md submits member bios
//! directly).

mod status;

use crate::arena::Buffer;
use crate::block::{DeviceId, DeviceInfo, Extent, IoStatus, Op};
use crate::bounded::{LoopBound, ITEMS_PER_CALL_MAX};
use crate::changed_ids::CheckSchedule;
use crate::error::{EngineError, WaitingJob};
use crate::io::Output;
use crate::raid5::{Raid5, Raid5Config, Raid5IoTag, Raid5Request, SyncAction};
use crate::services::{Caller, ServiceEvent, Services};
use crate::slab::{Slab, SlabKey};
use crate::target::io::{BioKey, TargetIo};

pub use status::render_mdstat;

/// A piece of a bio handed to the array: one raid5 bio (its slab key is the machine's id).
#[derive(Debug, Clone)]
struct Piece {
    bio: BioKey,
    op: Op,
    buffer: Buffer,
    sectors: u64,
}

/// A member IO in flight: the machine's tag, echoed on completion.
#[derive(Debug, Clone, Copy)]
struct MemberIo {
    tag: Raid5IoTag,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Raid5Target {
    /// The device in each role (a spare replaces a failed one).
    members: Vec<DeviceId>,
    /// Every device the array may use: the members at assembly, then the reserved spares.
    owned: Vec<DeviceId>,
    /// Reserved spare devices not yet added.
    spares_unused: Vec<DeviceId>,
    /// Added spares waiting for a failed role (md's hot spares).
    hot_spares: Vec<DeviceId>,
    machine: Raid5,
    pieces: Slab<Piece>,
    member_ios: Slab<MemberIo>,
    /// What [`Raid5Target::check_invariants_incremental`] carries between calls.
    own_check: OwnCheck,
    /// The array's logical block: the largest of its members' (md's stacking of limits).
    block_sectors: u64,
    /// The array as a device: the id the engine gives it in a stack (the next one after
    /// every device known when it was built), and the id its `ContentsUnknown` outputs
    /// name when it is the volume itself.
    array_device: DeviceId,
}

impl Raid5Target {
    /// Validates the members (known, distinct) and the shape, and assembles the array.
    pub fn new(
        members: &[DeviceId],
        spares: &[DeviceId],
        config: &Raid5Config,
        services: &mut Services,
    ) -> Result<Raid5Target, EngineError> {
        let devices = services.devices();
        let array_device = DeviceId(devices.len() as u16);
        let owned: Vec<DeviceId> = members.iter().chain(spares).copied().collect();
        let mut infos: Vec<DeviceInfo> = Vec::with_capacity(owned.len());
        for (index, &device) in owned.iter().enumerate() {
            let Some(&info) = devices.get(usize::from(device.0)) else {
                return Err(EngineError::UnknownDevice {
                    device,
                    devices: devices.len(),
                });
            };
            if owned[..index].contains(&device) {
                return Err(EngineError::BadTarget(format!(
                    "raid5: members: {device} is given twice (members and spares {} and {index})",
                    owned[..index]
                        .iter()
                        .position(|&d| d == device)
                        .expect("contained")
                )));
            }
            infos.push(info);
        }
        let spare_infos = infos.split_off(members.len());
        for (spare, info) in spares.iter().zip(&spare_infos) {
            let Some(first) = infos.first() else { break };
            let max_sectors = infos.iter().map(|m| m.max_sectors).min().unwrap_or(0);
            if info.capacity_sectors < first.capacity_sectors
                || info.block_sectors() > first.block_sectors()
                || info.max_sectors < max_sectors
            {
                return Err(EngineError::BadTarget(format!(
                    "raid5: spares: {spare} ({} sectors, {}-byte blocks, IO up to {} sectors) \
                     cannot replace a member ({} sectors, {}-byte blocks, IO up to {max_sectors})",
                    info.capacity_sectors,
                    info.logical_block_size,
                    info.max_sectors,
                    first.capacity_sectors,
                    first.logical_block_size,
                )));
            }
        }
        let block_sectors = infos
            .iter()
            .map(DeviceInfo::block_sectors)
            .max()
            .unwrap_or(1);
        let machine = Raid5::new(config, &infos, services.arena_mut())
            .map_err(|error| EngineError::BadTarget(format!("raid5: {error}")))?;
        let mut target = Raid5Target {
            members: members.to_vec(),
            owned,
            spares_unused: spares.to_vec(),
            hot_spares: Vec::new(),
            machine,
            pieces: Slab::new(),
            member_ios: Slab::new(),
            own_check: OwnCheck::default(),
            block_sectors,
            array_device,
        };
        // An array with a superblock starts by reading it (assembly).
        let mut finished = Vec::new();
        target.pump(services, &mut finished);
        assert!(
            finished.is_empty(),
            "no bio can finish before the first one"
        );
        Ok(target)
    }

    /// The member devices, in role order.
    pub fn members(&self) -> &[DeviceId] {
        &self.members
    }

    /// Every device the array may submit to (members at assembly and reserved spares).
    pub fn owned_devices(&self) -> &[DeviceId] {
        &self.owned
    }

    /// Added spares waiting for a failed role.
    pub fn hot_spares(&self) -> &[DeviceId] {
        &self.hot_spares
    }

    /// The machine, for observation.
    pub fn machine(&self) -> &Raid5 {
        &self.machine
    }

    pub fn volume_sectors(&self) -> u64 {
        self.machine.geometry().array_sectors()
    }

    /// The array's logical block in sectors.
    pub fn block_sectors(&self) -> u64 {
        self.block_sectors
    }

    /// The array as a device an upper target can stack on (see `crate::engine`): its size,
    /// logical block, and a `max_sectors` of one full stripe row of chunks (at least the
    /// block layer's default).
    pub fn device_info(&self) -> DeviceInfo {
        let geometry = self.machine.geometry();
        let row_sectors = geometry.chunk_sectors() * geometry.data_members() as u64;
        let max_sectors = u32::try_from(row_sectors)
            .unwrap_or(u32::MAX)
            .max(DeviceInfo::DEFAULT_MAX_SECTORS);
        let block_sectors = self.block_sectors;
        DeviceInfo {
            max_sectors: max_sectors - max_sectors % block_sectors as u32,
            // Writes to the array are volatile where they are on any member.
            volatile_write_cache: self.machine.has_volatile_write_cache(),
            ..DeviceInfo::new(
                self.volume_sectors(),
                (block_sectors * crate::block::SECTOR_SIZE as u64) as u32,
            )
        }
    }

    /// The table line: `0 <length> raid raid5_ls <chunk> <N> <devices…>` (dm-raid's form).
    pub fn table_line(&self) -> String {
        let geometry = self.machine.geometry();
        let layout = match geometry.layout() {
            crate::raid5::Layout::LeftAsymmetric => "raid5_la",
            crate::raid5::Layout::RightAsymmetric => "raid5_ra",
            crate::raid5::Layout::LeftSymmetric => "raid5_ls",
            crate::raid5::Layout::RightSymmetric => "raid5_rs",
        };
        let devices: Vec<String> = self.members.iter().map(|d| format!("- {d}")).collect();
        format!(
            "0 {} raid {layout} 1 {} {} {}",
            self.volume_sectors(),
            geometry.chunk_sectors(),
            self.members.len(),
            devices.join(" ")
        )
    }

    // ------------------------------------------------------------------ bios

    /// dm core (or the stacking block layer) hands over a piece: one raid5 bio.
    pub fn map(
        &mut self,
        io: TargetIo,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        let key = self.pieces.insert(Piece {
            bio: io.bio,
            op: io.op,
            buffer: io.buffer.clone(),
            sectors: io.sectors,
        });
        let now_ns = services.now_ns();
        self.machine.make_request(
            now_ns,
            services.arena_mut(),
            key.to_u64(),
            io.op,
            io.sector,
            io.sectors,
            io.buffer,
            io.sync,
            io.fua,
        );
        self.pump(services, finished);
    }

    /// A hot spare takes a failed role (md starts recovery onto a spare when a member fails).
    fn use_hot_spare(&mut self, services: &mut Services) -> bool {
        let Some(role) = self.machine.role_for_spare() else {
            return false;
        };
        if self.hot_spares.is_empty() {
            return false;
        }
        let device = self.hot_spares.remove(0);
        let now_ns = services.now_ns();
        let spare = services.devices()[usize::from(device.0)];
        self.machine
            .add_spare(now_ns, role, &spare, services.arena_mut())
            .expect("a failed role and no recovery running");
        self.members[role] = device;
        true
    }

    /// Carries out what the machine asked for, in order.
    fn pump(&mut self, services: &mut Services, finished: &mut Vec<(BioKey, IoStatus)>) {
        let mut bound = LoopBound::new("raid5 adapter pump", ITEMS_PER_CALL_MAX);
        loop {
            self.pump_requests(services, finished, &mut bound);
            if !self.use_hot_spare(services) {
                return;
            }
        }
    }

    fn pump_requests(
        &mut self,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
        bound: &mut LoopBound,
    ) {
        while let Some(request) = self.machine.poll_request() {
            bound.round();
            match request {
                Raid5Request::MemberIo {
                    tag,
                    member,
                    op,
                    sector,
                    sectors,
                    fua,
                    buffer,
                } => {
                    let io = self.member_ios.insert(MemberIo { tag });
                    services.submit_io(
                        Caller(io.to_u64()),
                        self.members[member],
                        op,
                        sector,
                        sectors,
                        fua,
                        false,
                        buffer,
                    );
                }
                Raid5Request::BioDone { id, status } => {
                    let piece = self
                        .pieces
                        .remove(SlabKey::from_u64(id))
                        .expect("the machine ends each live bio once");
                    if !status.is_ok() && piece.op == Op::Read {
                        services
                            .arena_mut()
                            .zero_sectors(&piece.buffer, piece.sectors);
                    }
                    finished.push((piece.bio, status));
                }
                Raid5Request::ContentsUnknown { sector, sectors } => {
                    services.push_output(Output::ContentsUnknown {
                        device: self.array_device,
                        extent: Extent::new(sector, sectors),
                    });
                }
            }
        }
    }

    pub fn on_event(
        &mut self,
        event: ServiceEvent,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) {
        let ServiceEvent::DeviceIoDone { caller, status, .. } = event else {
            unreachable!("raid5 uses raw device IO only, got {event:?}");
        };
        let io = self
            .member_ios
            .remove(SlabKey::from_u64(caller.0))
            .expect("completion for a live raid5 member IO");
        let now_ns = services.now_ns();
        self.machine
            .complete_member_io(now_ns, services.arena_mut(), io.tag, status);
        self.pump(services, finished);
    }

    #[must_use]
    pub fn poll_deadline(&self) -> Option<u64> {
        self.machine.poll_deadline()
    }

    pub fn on_tick(&mut self, services: &mut Services, finished: &mut Vec<(BioKey, IoStatus)>) {
        let now_ns = services.now_ns();
        if self.machine.poll_deadline().is_some_and(|at| at <= now_ns) {
            self.machine.tick(now_ns, services.arena_mut());
            self.pump(services, finished);
        }
    }

    /// `fail N`: fails member N (mdadm --fail).
    pub fn message(
        &mut self,
        message: &str,
        services: &mut Services,
        finished: &mut Vec<(BioKey, IoStatus)>,
    ) -> Result<(), String> {
        let words: Vec<&str> = message.split_whitespace().collect();
        match words.as_slice() {
            ["fail", member] => {
                let member: usize = member
                    .parse()
                    .ok()
                    .filter(|&m: &usize| m < self.members.len())
                    .ok_or_else(|| {
                        format!(
                            "raid5 message {message:?}: member must be 0..{}",
                            self.members.len()
                        )
                    })?;
                let now_ns = services.now_ns();
                self.machine
                    .fail_member(now_ns, member, services.arena_mut());
                self.pump(services, finished);
                Ok(())
            }
            ["add", rest @ ..] if rest.len() <= 1 => {
                let device = match rest {
                    [] => self.spares_unused.first().copied(),
                    [name] => self
                        .spares_unused
                        .iter()
                        .copied()
                        .find(|d| d.to_string() == *name),
                    _ => unreachable!("at most one word"),
                }
                .ok_or_else(|| {
                    let names: Vec<String> =
                        self.spares_unused.iter().map(|d| d.to_string()).collect();
                    format!(
                        "raid5 message {message:?}: no such spare left (unused spares: [{}])",
                        names.join(", ")
                    )
                })?;
                self.spares_unused.retain(|&d| d != device);
                self.hot_spares.push(device);
                self.pump(services, finished);
                Ok(())
            }
            [action @ ("check" | "repair")] => {
                let action = if *action == "check" {
                    SyncAction::Check
                } else {
                    SyncAction::Repair
                };
                let now_ns = services.now_ns();
                if !self
                    .machine
                    .start_sync(now_ns, action, services.arena_mut())
                {
                    return Err(format!(
                        "raid5 message {message:?}: a {} pass is already running",
                        self.machine.sync_action()
                    ));
                }
                self.pump(services, finished);
                Ok(())
            }
            _ => Err(format!(
                "raid5 accepts `fail N` (fail member N), `add [devK]` (add a spare), `check` \
                 and `repair` (sync_action), got {message:?}"
            )),
        }
    }

    pub fn is_idle(&self) -> bool {
        self.pieces.is_empty() && self.member_ios.is_empty() && self.machine.is_idle()
    }

    pub fn waiting_report(&self, out: &mut Vec<WaitingJob>) {
        if self.pieces.is_empty() {
            if !self.machine.is_idle() {
                out.push(WaitingJob {
                    component: "raid5",
                    description: format!(
                        "no bio, but the array is busy: {}",
                        self.machine.busy_summary()
                    ),
                });
            }
            return;
        }
        out.push(WaitingJob {
            component: "raid5",
            description: format!(
                "{} bio(s) in the array ({} waiting for a stripe head or an overlapping bio), \
                 {} member IO(s) in flight, {} stripe head(s) active",
                self.pieces.len(),
                self.machine.bios_waiting(),
                self.member_ios.len(),
                self.machine.stripe_cache_active()
            ),
        });
    }

    pub fn check_invariants(&self) -> Result<(), String> {
        self.machine.check_invariants()?;
        self.check_own()
    }

    /// [`Raid5Target::check_invariants`], but the machine's stripe cache checks only the
    /// heads changed since the last call (see [`Raid5::check_invariants_incremental`]).
    /// The adapter's slabs are counted by difference over their changed slots (their
    /// bookkeeping is all the adapter checks of them), in full every
    /// [`FULL_CHECK_EVERY_CALLS`]th call and after a failure.
    ///
    /// [`FULL_CHECK_EVERY_CALLS`]: crate::changed_ids::FULL_CHECK_EVERY_CALLS
    pub fn check_invariants_incremental(&mut self) -> Result<(), String> {
        self.machine.check_invariants_incremental()?;
        let mut progress = std::mem::take(&mut self.own_check);
        let result = self.check_own_incremental(&mut progress);
        progress.schedule.done(&result);
        self.own_check = progress;
        result
    }

    /// The incremental part of [`Raid5Target::check_invariants_incremental`].
    fn check_own_incremental(&mut self, progress: &mut OwnCheck) -> Result<(), String> {
        self.pieces.take_changes(&mut progress.pieces_changes);
        self.member_ios
            .take_changes(&mut progress.member_io_changes);
        if progress.schedule.full_due() {
            progress.pieces_occupied = self.pieces.len();
            progress.member_ios_occupied = self.member_ios.len();
            return self.check_own();
        }
        self.pieces.check_changed(
            &progress.pieces_changes,
            &mut progress.pieces_occupied,
            |_, _| Ok(()),
        )??;
        self.member_ios.check_changed(
            &progress.member_io_changes,
            &mut progress.member_ios_occupied,
            |_, _| Ok(()),
        )??;
        self.check_pieces_against_machine()
    }

    /// The adapter's own records against the machine's.
    fn check_own(&self) -> Result<(), String> {
        self.pieces.check()?;
        self.member_ios.check()?;
        self.check_pieces_against_machine()
    }

    /// One piece per bio the machine holds.
    fn check_pieces_against_machine(&self) -> Result<(), String> {
        if self.pieces.len() != self.machine.bios_in_flight() {
            return Err(format!(
                "raid5 adapter: {} pieces but the machine holds {} bios",
                self.pieces.len(),
                self.machine.bios_in_flight()
            ));
        }
        Ok(())
    }
}

/// See [`Raid5Target::check_invariants_incremental`].
#[derive(Debug, Default)]
struct OwnCheck {
    schedule: CheckSchedule,
    /// The changed slots being checked (kept for their allocations).
    pieces_changes: Vec<(u32, bool)>,
    member_io_changes: Vec<(u32, bool)>,
    /// Occupied slots of each slab as counted.
    pieces_occupied: usize,
    member_ios_occupied: usize,
}
