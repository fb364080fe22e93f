//! The three deploy phases in which tasks run.

use std::fmt;

/// A deploy phase, in the order a host runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// `pre-deploy`: runs in a container of the new image and is committed into it.
    Predeploy,
    /// `post-release`: the Procfile `release` command, in a throwaway container.
    Release,
    /// `post-deploy`: after the new containers are scheduled, not committed.
    Postdeploy,
}

impl Phase {
    /// Every phase, in deploy order.
    pub const ALL: [Phase; 3] = [Phase::Predeploy, Phase::Release, Phase::Postdeploy];

    /// The phase's name as Dokku writes it (`predeploy`, `release`, `postdeploy`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Predeploy => "predeploy",
            Phase::Release => "release",
            Phase::Postdeploy => "postdeploy",
        }
    }

    /// The phase for a name as Dokku writes it.
    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|phase| phase.name() == name)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
