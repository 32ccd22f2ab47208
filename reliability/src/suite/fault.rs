//! The faults the rows put one member of the cluster through while a drive runs: killed and
//! started again, or frozen (SIGSTOP) and continued.

use super::Suite;
use crate::driver::Driver;
use crate::outcome::unix_ms;
use crate::procs::Member;

/// What happens to the member.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fault {
    /// SIGKILL, then started again (and waited for until it serves).
    Kill(Member),
    /// SIGSTOP, then SIGCONT.
    Pause(Member),
}

impl Suite {
    /// `fault` from `from` to `to` seconds into `driver`'s load: the unix ms just before it
    /// began and just after it ended.
    pub(super) async fn fault(
        &mut self,
        driver: &Driver,
        fault: Fault,
        from: f64,
        to: f64,
    ) -> anyhow::Result<(u64, u64)> {
        driver.until(from).await;
        let began = unix_ms();
        self.begin(fault)?;
        driver.until(to).await;
        self.end(fault).await?;
        Ok((began, unix_ms()))
    }

    /// Puts the member through `fault`.
    pub(super) fn begin(&mut self, fault: Fault) -> anyhow::Result<()> {
        match fault {
            Fault::Kill(member) => self.cluster.proc(member).kill(),
            Fault::Pause(member) => self.cluster.proc(member).signal("STOP")?,
        }
        Ok(())
    }

    /// Ends `fault`: the member started again (and serving), or continued.
    pub(super) async fn end(&mut self, fault: Fault) -> anyhow::Result<()> {
        match fault {
            Fault::Kill(member) => self.cluster.start(member).await,
            Fault::Pause(member) => self.cluster.proc(member).signal("CONT"),
        }
    }
}
