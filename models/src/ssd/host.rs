//! Host interface and controller front end: how many commands the device holds at once
//! (NVMe queue entries or SATA NCQ tags), the link that carries data (full duplex for NVMe,
//! one shared direction for SATA), and the controller cores that process each command.
//!
//! SATA's FLUSH CACHE is a non-queued command: it waits until no queued command is in the
//! device and nothing else starts until it ends ("exclusive"). NVMe has no such barrier.
//! The queue of commands waiting for a slot lives here; the model starts them.
//!
//! Deliberately not modelled: per-core NVMe queue pairs and arbitration between them (the
//! device sees one merged queue of `queue_depth`), interrupt coalescing, link power states.

use super::params::{HostInterface, HostParams};
use super::timeline::{transfer_ns, Timeline};
use std::collections::VecDeque;

pub(crate) struct HostSide {
    params: HostParams,
    in_device: u32,
    exclusive_active: bool,
    /// Jobs waiting for a slot, in arrival order.
    pub waiting: VecDeque<u32>,
    /// Host → device (for SATA: the one shared link).
    to_device: Timeline,
    /// Device → host (NVMe only).
    to_host: Timeline,
    cores: Vec<Timeline>,
}

impl HostSide {
    pub fn new(params: &HostParams) -> HostSide {
        HostSide {
            params: params.clone(),
            in_device: 0,
            exclusive_active: false,
            waiting: VecDeque::new(),
            to_device: Timeline::default(),
            to_host: Timeline::default(),
            cores: vec![Timeline::default(); params.firmware_cores as usize],
        }
    }

    pub fn is_sata(&self) -> bool {
        self.params.interface == HostInterface::Sata
    }

    pub fn command_overhead_ns(&self) -> u64 {
        self.params.command_overhead_ns
    }

    pub fn completion_overhead_ns(&self) -> u64 {
        self.params.completion_overhead_ns
    }

    /// Whether a command (exclusive or not) may enter the device now.
    pub fn can_admit(&self, exclusive: bool) -> bool {
        if self.exclusive_active {
            return false;
        }
        if exclusive {
            self.in_device == 0
        } else {
            self.in_device < self.params.queue_depth
        }
    }

    pub fn admitted(&mut self, exclusive: bool) {
        assert!(self.can_admit(exclusive), "admitted without a free slot");
        self.in_device += 1;
        self.exclusive_active = exclusive;
    }

    pub fn released(&mut self, exclusive: bool) {
        assert!(self.in_device > 0, "released a slot nobody held");
        self.in_device -= 1;
        if exclusive {
            self.exclusive_active = false;
        }
    }

    /// Process one command on the earliest free core; returns when processing ends.
    pub fn firmware(&mut self, now_ns: u64, ready_ns: u64) -> u64 {
        let len = self.params.firmware_command_ns;
        if len == 0 {
            return ready_ns;
        }
        let (core, start) = self
            .cores
            .iter_mut()
            .enumerate()
            .map(|(i, c)| {
                c.prune(now_ns);
                (i, c.earliest_start(ready_ns, len))
            })
            .min_by_key(|&(i, start)| (start, i))
            .expect("at least one core");
        self.cores[core].reserve(start, len);
        start + len
    }

    /// Move `bytes` over the link toward the host (read data) or the device (write data);
    /// returns when the last byte arrives.
    pub fn transfer(&mut self, now_ns: u64, ready_ns: u64, bytes: u64, toward_host: bool) -> u64 {
        if bytes == 0 {
            return ready_ns;
        }
        let len = transfer_ns(bytes, self.params.link_mb_per_s);
        let link = if toward_host && !self.is_sata() {
            &mut self.to_host
        } else {
            &mut self.to_device
        };
        link.acquire(now_ns, ready_ns, len) + len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(interface: HostInterface) -> HostParams {
        HostParams {
            interface,
            queue_depth: 2,
            link_mb_per_s: 1000,
            command_overhead_ns: 0,
            completion_overhead_ns: 0,
            firmware_cores: 2,
            firmware_command_ns: 100,
        }
    }

    #[test]
    fn nvme_link_is_full_duplex_and_sata_is_shared() {
        let mut nvme = HostSide::new(&params(HostInterface::Nvme));
        assert_eq!(nvme.transfer(0, 0, 1000, true), 1000);
        assert_eq!(nvme.transfer(0, 0, 1000, false), 1000);
        let mut sata = HostSide::new(&params(HostInterface::Sata));
        assert_eq!(sata.transfer(0, 0, 1000, true), 1000);
        assert_eq!(sata.transfer(0, 0, 1000, false), 2000);
    }

    #[test]
    fn cores_run_in_parallel_and_slots_bound_admission() {
        let mut h = HostSide::new(&params(HostInterface::Sata));
        assert_eq!(h.firmware(0, 0), 100);
        assert_eq!(h.firmware(0, 0), 100);
        assert_eq!(h.firmware(0, 0), 200);
        h.admitted(false);
        assert!(!h.can_admit(true), "exclusive waits for an empty device");
        h.admitted(false);
        assert!(!h.can_admit(false), "queue depth 2 reached");
        h.released(false);
        h.released(false);
        h.admitted(true);
        assert!(
            !h.can_admit(false),
            "nothing enters during an exclusive command"
        );
    }
}
