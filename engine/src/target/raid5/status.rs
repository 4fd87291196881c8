//! The array's `/proc/mdstat`-style status (spec section 7): which members work, the shape,
//! and the stripe cache's use.

use crate::block::DeviceId;
use crate::raid5::Raid5;

/// `/proc/mdstat`'s two lines for the array over `members` (role order):
///
/// ```text
/// md0 : active raid5 dev3[3] dev2[2] dev1[1](F) dev0[0]
///       98304 blocks level 5, 64k chunk, algorithm 2 [4/3] [U_UU]
/// ```
/// followed by a line of the stripe cache (`stripe_cache_size` and `stripe_cache_active`),
/// a running pass's progress line (`recovery = 12.5% (1024/8192) finish=0.1min
/// speed=1000K/sec`) and `mismatch_cnt`. Hot spares follow the members as `devK[N](S)`; a
/// role being rebuilt shows as `_` in the map until its recovery ends.
pub fn render_mdstat(
    name: &str,
    members: &[DeviceId],
    hot_spares: &[DeviceId],
    machine: &Raid5,
) -> String {
    let health = machine.members();
    let mut roles: Vec<String> = members
        .iter()
        .enumerate()
        .rev()
        .map(|(role, device)| {
            let failed = if health[role].faulty { "(F)" } else { "" };
            format!("{device}[{role}]{failed}")
        })
        .collect();
    for (index, spare) in hot_spares.iter().enumerate().rev() {
        roles.insert(0, format!("{spare}[{}](S)", members.len() + index));
    }
    roles.insert(0, format!("{name} : active raid5"));
    let geometry = machine.geometry();
    let working = health.iter().filter(|m| !m.degraded()).count();
    let map: String = health
        .iter()
        .map(|m| if m.degraded() { '_' } else { 'U' })
        .collect();
    let algorithm = crate::raid5::Layout::ALL
        .iter()
        .position(|&l| l == geometry.layout())
        .expect("a known layout");
    format!(
        "{}\n      {} blocks level 5, {}k chunk, algorithm {algorithm} [{}/{working}] [{map}]\n      \
         stripe_cache_size {} stripe_cache_active {}",
        roles.join(" "),
        geometry.array_sectors() / 2,
        geometry.chunk_sectors() / 2,
        members.len(),
        machine.config().stripe_cache_size,
        machine.stripe_cache_active()
    ) + &sync_line(machine)
}

/// md's progress line of a running pass (check, repair, recovery) with its expected finish
/// and speed, and `mismatch_cnt`.
fn sync_line(machine: &Raid5) -> String {
    let progress = match (
        machine.sync_progress(),
        machine.sync_running(),
        machine.sync_speed_kib_s(),
    ) {
        (Some((done, total)), Some(action), Some(speed_kib_s)) => {
            let finish_s = (total - done) / 2 / speed_kib_s.max(1);
            format!(
                "\n      {} = {:.1}% ({}/{}) finish={}.{}min speed={}K/sec",
                action.progress_word(),
                done as f64 * 100.0 / total.max(1) as f64,
                done / 2,
                total / 2,
                finish_s / 60,
                finish_s % 60 / 6,
                speed_kib_s
            )
        }
        _ => String::new(),
    };
    let state = match machine.array_state() {
        Some((dirty, bitmap_chunks)) => {
            let bitmap = machine
                .config()
                .bitmap_chunk_sectors
                .map_or(String::new(), |chunk| {
                    format!(
                        " bitmap: {bitmap_chunks}/{} chunks dirty, {}KB chunk",
                        machine.geometry().member_sectors().div_ceil(chunk),
                        chunk / 2
                    )
                });
            let state = if dirty { "active" } else { "clean" };
            format!("\n      array_state {state}{bitmap}")
        }
        None => String::new(),
    };
    format!(
        "{progress}{state}\n      mismatch_cnt {}",
        machine.mismatch_cnt()
    )
}
