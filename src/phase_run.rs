//! One phase's run as a transaction: it holds the app's lock and its in-flight record, and owns
//! every image its predeploy tasks committed. The tag move is its commit; leaving any other way
//! (a failed task, an error returned with `?`, a panic, a signal) removes those images.

use anyhow::Result;

use crate::app::App;
use crate::commit;
use crate::container::{self, ContainerGuard};
use crate::docker::{Docker, Image};
use crate::host::Host;
use crate::in_flight::{self, InFlight, Sweep};
use crate::interrupt;
use crate::lock::AppLock;
use crate::output::Output;

/// A phase running for an app, from the lock to the tag move.
///
/// Dropped, it removes the names it gave its images, newest first. Docker removes an image with
/// its name when nothing else holds it, so without the tag move every image the run committed
/// goes; after it, the app's tag holds the last image and each image its parent, and only the
/// names go. What it cannot remove is left for the next run, which finds the names of killed or
/// failed runs by their form ([`commit::intermediate_name`]); a line says so. The in-flight
/// record is removed, and the lock released, only after that.
pub struct PhaseRun {
    docker: Docker,
    output: Output,
    app: App,
    id: String,
    /// The names given to the images this run created, oldest first.
    images: Vec<String>,
    /// The last commit's image ID: what the next predeploy task runs on and the tag moves to.
    latest: Option<String>,
    /// Where to tell the next runs to look for what this one could not remove.
    sweep: Sweep,
    // Dropped in this order, after `drop` ran: the record, then the lock.
    in_flight: InFlight,
    _lock: AppLock,
}

impl PhaseRun {
    /// Begins a run under the app's `lock`, through `docker` (the engine the phase's plan
    /// chose): removes what runs that were killed left, and opens this run's in-flight record.
    pub fn begin(host: &Host, app: &App, lock: AppLock, docker: &Docker) -> Result<PhaseRun> {
        in_flight::remove_leftovers(host, docker, app, &host.output)?;
        let id = container::run_id();
        let in_flight = InFlight::open(host, app, &id)?;
        Ok(PhaseRun {
            docker: docker.clone(),
            output: host.output,
            app: app.clone(),
            id,
            images: Vec::new(),
            latest: None,
            sweep: Sweep::of(host, app),
            in_flight,
            _lock: lock,
        })
    }

    /// The run's ID, which names its containers and images.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Notes a task container before it is created, so that the next run removes it should this
    /// one be killed, and guards it ([`InFlight::guard`]).
    pub fn guard_container(&mut self, name: &str) -> Result<ContainerGuard> {
        self.in_flight.guard(&self.docker, name)
    }

    /// The image the next predeploy task runs on: the last commit, else `image`'s.
    pub fn run_image<'a>(&'a self, image: &'a Image) -> &'a str {
        self.latest.as_deref().unwrap_or(&image.id)
    }

    /// Commits a predeploy task's stopped container ([`commit::commit`]) and returns the image
    /// ID. Each image is named in the run's own namespace, and the name noted in the in-flight
    /// record, before the call that creates it starts, so that the next run finds it should this
    /// one be killed.
    pub fn commit(&mut self, container: &str, before: &Image) -> Result<String> {
        let PhaseRun {
            docker,
            app,
            id,
            images,
            in_flight,
            ..
        } = self;
        let mut name_next = || -> Result<String> {
            let name = commit::intermediate_name(app, id, images.len() + 1);
            in_flight.note_image(&name)?;
            images.push(name.clone());
            Ok(name)
        };
        let committed = commit::commit(docker, container, app, before, &mut name_next)?;
        self.latest = Some(committed.clone());
        Ok(committed)
    }

    /// Points `reference` at the last commit, unless it no longer points at `expected_id`
    /// ([`commit::move_tag`]); a signal meanwhile is acted on after it. Returns whether there
    /// was a commit to move the tag to.
    pub fn move_tag(&self, reference: &str, expected_id: &str) -> Result<bool> {
        let Some(latest) = &self.latest else {
            return Ok(false);
        };
        let _critical = interrupt::Critical::begin();
        commit::move_tag(&self.docker, reference, expected_id, latest)?;
        Ok(true)
    }
}

impl Drop for PhaseRun {
    fn drop(&mut self) {
        let mut left = Vec::new();
        for name in self.images.iter().rev() {
            if let Err(error) = self.docker.remove_image(name) {
                left.push(format!("{name} ({error:#})"));
            }
        }
        // A call given up at a stop signal's deadline (a commit, a build) may still make its
        // image in the engine, under a name this run has just found absent: the next runs look.
        if !self.images.is_empty() && interrupt::grace_over().is_some() {
            self.sweep.schedule();
        }
        if !left.is_empty() {
            self.sweep.schedule();
            self.output.warn(&format!(
                "could not remove the images this run committed: {}; the next task run of {} removes them",
                left.join(", "),
                self.app.name()
            ));
        }
    }
}
