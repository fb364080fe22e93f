//! The run history of an app's tasks: one JSON line per task run in
//! `$DOKKU_LIB_ROOT/data/deploy-tasks/APP/history.jsonl`, for `deploy-tasks:history`.
//!
//! The file is append-only and bounded: an append that would take it past 1 MiB first moves it to
//! `history.jsonl.1`, replacing the older one, so at most two files of about 1 MiB each are kept.
//! A line cut short by a crash is skipped when reading and never glued to the next entry.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::bounded_read;
use crate::host::DataDir;
use crate::phase::Phase;

/// The history file in an app's data directory.
pub const FILE_NAME: &str = "history.jsonl";
/// The previous history file, replaced on each rotation.
pub const ROTATED_FILE_NAME: &str = "history.jsonl.1";
/// The lock writers take turns under.
const LOCK_FILE_NAME: &str = "history.lock";
/// The size past which the history file is rotated instead of grown.
pub const MAX_BYTES: u64 = 1024 * 1024;

/// The most of one history file [`read`] takes: the rotation size, plus a line.
const READ_LIMIT: usize = 2 * MAX_BYTES as usize;

/// How one task run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The task exited 0.
    Ok,
    /// The task exited non-zero and the phase failed.
    Failed,
    /// The task ran past its time limit.
    Timeout,
    /// A signal (or a dropped connection) stopped the task.
    Interrupted,
    /// The task was not run (a setting skipped its phase, or a first-deploy task already ran).
    Skipped,
    /// The task failed or timed out, and the `warn` policy let the deploy go on.
    Warned,
    /// The task ran past its time limit and its source treats that as success (Pagoda Box's
    /// deploy hooks); the deploy went on with a warning.
    #[serde(rename = "timeout-ignored")]
    TimeoutIgnored,
}

impl Outcome {
    /// The name stored in the history (`ok`, `failed`, `timeout`, `interrupted`, `skipped`,
    /// `warned`, `timeout-ignored`).
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Timeout => "timeout",
            Outcome::Interrupted => "interrupted",
            Outcome::Skipped => "skipped",
            Outcome::Warned => "warned",
            Outcome::TimeoutIgnored => "timeout-ignored",
        }
    }
}

/// One task run, as stored on one line of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the task started, RFC 3339 in UTC to the second (`2026-11-22T18:00:00Z`).
    pub time: String,
    /// The phase (`predeploy`, `release`, `postdeploy`).
    pub phase: String,
    /// Where the task was defined (`app.json`, `Procfile`, ...).
    pub source: String,
    /// The command as written.
    pub command: String,
    /// The ID of the image the task ran on.
    pub image_before: String,
    /// The ID of the image after the task: the commit, or `image_before` when nothing was
    /// committed.
    pub image_after: String,
    /// How long the task took, in milliseconds.
    pub duration_ms: u64,
    /// The task's exit status; `None` (JSON `null`) when it did not exit on its own (timed out,
    /// interrupted, skipped).
    pub exit_code: Option<i32>,
    /// How it ended.
    pub outcome: Outcome,
}

impl HistoryEntry {
    /// An entry for a task starting now on `image_before`: so far it took no time, changed
    /// nothing and ended `ok`; [`HistoryEntry::finish`] records how it really ended.
    pub fn start(phase: Phase, source: &str, command: &str, image_before: &str) -> HistoryEntry {
        HistoryEntry {
            time: rfc3339(SystemTime::now()),
            phase: phase.name().to_string(),
            source: source.to_string(),
            command: command.to_string(),
            image_before: image_before.to_string(),
            image_after: image_before.to_string(),
            duration_ms: 0,
            exit_code: None,
            outcome: Outcome::Ok,
        }
    }

    /// Records how the task ended: its outcome, exit status, the image it left (the commit, or
    /// the image it ran on) and how long it took.
    pub fn finish(
        &mut self,
        outcome: Outcome,
        exit_code: Option<i32>,
        image_after: &str,
        duration: Duration,
    ) {
        self.outcome = outcome;
        self.exit_code = exit_code;
        self.image_after = image_after.to_string();
        self.duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    }
}

/// Appends `entry` as one line to `history.jsonl` in `dir` (an app's data directory, from
/// [`crate::host::Host::data_dir`]), creating the directory if needed; what it creates gets the
/// data directory's [`crate::ownership::Ownership`]. When the line would take the file past
/// [`MAX_BYTES`], the file first becomes `history.jsonl.1` (replacing the older one, and keeping
/// its owner). The line is written in one `write` on a file opened for appending, so entries of
/// runs that overlap never interleave, and the size check and rotation happen under a lock of
/// the history's own (`history.lock`), so two writers never rotate twice: a run recording a
/// skipped phase does so without the app's lock.
pub fn append(dir: &DataDir, entry: &HistoryEntry) -> Result<()> {
    dir.create()?;
    let _turn = writers_turn(dir)?;
    let path = dir.join(FILE_NAME);
    let mut line = serde_json::to_string(entry).context("encoding a history entry")?;
    line.push('\n');
    // The file itself, not what a link planted in its place points to: the open refuses one.
    let size = match std::fs::symlink_metadata(&path) {
        Ok(metadata) => metadata.len(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    if size > 0 && size + line.len() as u64 > MAX_BYTES {
        std::fs::rename(&path, dir.join(ROTATED_FILE_NAME))
            .with_context(|| format!("rotating {}", path.display()))?;
    }
    let mut file = dir
        .ownership()
        .create_or_open(&path, OpenOptions::new().append(true).read(true))?;
    if !ends_with_newline(&mut file).with_context(|| format!("reading {}", path.display()))? {
        // A crash cut the last line short: end it, so this entry stays a line of its own.
        line.insert(0, '\n');
    }
    file.write_all(line.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The history's lock, held while one writer appends (and maybe rotates), which takes
/// microseconds.
fn writers_turn(dir: &DataDir) -> Result<File> {
    crate::lock::brief(dir, LOCK_FILE_NAME)
}

/// The `n` most recent entries in `dir`, newest first: from `history.jsonl`, then
/// `history.jsonl.1`, and a warning for each file that is there but not read. Missing files are
/// an empty history; a line that does not parse (cut short by a crash, or written by a newer
/// version) is skipped.
pub fn read(dir: &Path, n: usize) -> (Vec<HistoryEntry>, Vec<String>) {
    let (mut entries, mut warnings) = (Vec::new(), Vec::new());
    for path in files(dir) {
        if entries.len() >= n {
            break;
        }
        // Bounded and never through a link: a file past the rotation size was not written here,
        // and its first part is not its newest.
        let text = match bounded_read::host_file(&path, READ_LIMIT) {
            Ok(None) => continue,
            Ok(Some(text)) if text.len() > READ_LIMIT => {
                warnings.push(format!(
                    "{} is over {READ_LIMIT} bytes, more than the plugin writes: not read; move it away",
                    path.display()
                ));
                continue;
            }
            Ok(Some(text)) => text,
            Err(error) => {
                warnings.push(format!("{error:#}; not read"));
                continue;
            }
        };
        let newest_first = text
            .split(|byte| *byte == b'\n')
            .rev()
            .filter_map(|line| serde_json::from_slice::<HistoryEntry>(line).ok());
        entries.extend(newest_first.take(n - entries.len()));
    }
    (entries, warnings)
}

/// The history files of `dir`, newest first.
fn files(dir: &Path) -> [PathBuf; 2] {
    [dir.join(FILE_NAME), dir.join(ROTATED_FILE_NAME)]
}

/// Whether the file is empty or its last byte is a newline.
fn ends_with_newline(file: &mut File) -> std::io::Result<bool> {
    let size = file.metadata()?.len();
    if size == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::Start(size - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// `time` as RFC 3339 in UTC, to the second: `2026-11-22T18:00:00Z`. A time before 1970 (a
/// broken clock) is written as the epoch.
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX / 2);
    let (year, month, day) = civil_from_days(days);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date (year, month 1-12, day 1-31) of a count of days since
/// 1970-01-01, after Howard Hinnant's `civil_from_days`: days are counted in 400-year eras
/// starting on March 1st, so that the leap day falls at the end of each year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction: day 1..=31, month 1..=12.
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ownership::{Owner, Ownership};
    use std::os::unix::fs::MetadataExt;

    fn entry(command: &str) -> HistoryEntry {
        let mut entry = HistoryEntry::start(Phase::Release, "Procfile", command, "sha256:aaa");
        entry.finish(
            Outcome::Ok,
            Some(0),
            "sha256:aaa",
            Duration::from_millis(1500),
        );
        entry
    }

    /// `path` as a data directory whose files keep the owner they are created with.
    fn data_dir(path: &Path) -> DataDir {
        DataDir::new(path.to_path_buf(), Ownership::with_owner(path, None))
    }

    fn commands(entries: &[HistoryEntry]) -> Vec<&str> {
        entries.iter().map(|entry| entry.command.as_str()).collect()
    }

    #[test]
    fn dates_match_the_calendar() {
        let at = |seconds: u64| rfc3339(UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_795_370_400), "2026-11-22T18:00:00Z");
        assert_eq!(at(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(at(951_868_800), "2000-03-01T00:00:00Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(at(1_704_067_199), "2023-12-31T23:59:59Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn civil_from_days_walks_every_day_of_four_centuries() {
        let mut expected = (1970i64, 1u32, 1u32);
        for days in 0..146_097 {
            assert_eq!(civil_from_days(days), expected, "day {days}");
            let (year, month, day) = expected;
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let length = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            expected = if day < length {
                (year, month, day + 1)
            } else if month < 12 {
                (year, month + 1, 1)
            } else {
                (year + 1, 1, 1)
            };
        }
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn entries_are_stored_as_the_documented_json() {
        let mut entry = HistoryEntry::start(
            Phase::Predeploy,
            "app.json",
            "rake db:migrate",
            "sha256:before",
        );
        assert_eq!(entry.image_after, "sha256:before");
        entry.time = "2026-11-22T18:00:00Z".into();
        entry.finish(
            Outcome::Timeout,
            None,
            "sha256:before",
            Duration::from_millis(42),
        );
        assert_eq!(
            serde_json::to_string(&entry).unwrap(),
            r#"{"time":"2026-11-22T18:00:00Z","phase":"predeploy","source":"app.json","command":"rake db:migrate","image_before":"sha256:before","image_after":"sha256:before","duration_ms":42,"exit_code":null,"outcome":"timeout"}"#
        );
        for outcome in [
            Outcome::Ok,
            Outcome::Failed,
            Outcome::Timeout,
            Outcome::Interrupted,
            Outcome::Skipped,
            Outcome::Warned,
            Outcome::TimeoutIgnored,
        ] {
            assert_eq!(
                serde_json::to_string(&outcome).unwrap(),
                format!("\"{}\"", outcome.name())
            );
        }
    }

    #[test]
    fn reads_newest_first_and_at_most_n() {
        let dir = tempfile::tempdir().unwrap();
        let data = data_dir(&dir.path().join("data").join("app"));
        assert!(read(&data, 10).0.is_empty());
        for command in ["one", "two", "three"] {
            append(&data, &entry(command)).unwrap();
        }
        assert_eq!(commands(&read(&data, 10).0), ["three", "two", "one"]);
        assert_eq!(commands(&read(&data, 2).0), ["three", "two"]);
        assert!(read(&data, 0).0.is_empty());
        let newest = &read(&data, 1).0[0];
        assert_eq!(newest.duration_ms, 1500);
        assert_eq!(newest.exit_code, Some(0));
        assert_eq!(newest.outcome, Outcome::Ok);
    }

    #[test]
    fn a_line_cut_short_is_skipped_and_the_next_entry_survives() {
        let dir = tempfile::tempdir().unwrap();
        let data = data_dir(dir.path());
        append(&data, &entry("before the crash")).unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"time":"2026-11-22T18:00:00Z","phase":"rel"#)
            .unwrap();
        drop(file);
        assert_eq!(commands(&read(dir.path(), 10).0), ["before the crash"]);
        append(&data, &entry("after the crash")).unwrap();
        assert_eq!(
            commands(&read(dir.path(), 10).0),
            ["after the crash", "before the crash"]
        );
    }

    #[test]
    fn rotates_past_one_mebibyte_keeping_one_older_file() {
        let dir = tempfile::tempdir().unwrap();
        let data = data_dir(dir.path());
        let long = "x".repeat(100 * 1024);
        let mut written = Vec::new();
        for index in 0..25 {
            let command = format!("{index} {long}");
            append(&data, &entry(&command)).unwrap();
            written.push(command);
            let size = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap().len();
            assert!(size <= MAX_BYTES, "history.jsonl grew to {size} bytes");
        }
        assert!(dir.path().join(ROTATED_FILE_NAME).exists());
        assert!(!dir.path().join("history.jsonl.2").exists());
        let current = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        let rotated = std::fs::read_to_string(dir.path().join(ROTATED_FILE_NAME)).unwrap();
        // Ten entries of ~100 KiB fit in 1 MiB: 25 entries are 10 + 10 + 5, the first 10 dropped.
        assert_eq!(current.lines().count(), 5);
        assert_eq!(rotated.lines().count(), 10);
        let all = read(dir.path(), 100).0;
        let expected: Vec<&str> = written[10..].iter().rev().map(String::as_str).collect();
        assert_eq!(commands(&all), expected);
        let across = read(dir.path(), 7).0;
        assert_eq!(commands(&across), expected[..7]);
    }

    #[test]
    fn an_append_waits_for_another_writers_turn() {
        let dir = tempfile::tempdir().unwrap();
        let data = data_dir(dir.path());
        append(&data, &entry("first")).unwrap();
        let turn = writers_turn(&data).unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let path = dir.path();
            scope.spawn(move || {
                append(&data_dir(path), &entry("second")).unwrap();
                done.send(()).unwrap();
            });
            // However slow the machine, it cannot append while the turn is held.
            assert!(finished.recv_timeout(Duration::from_millis(300)).is_err());
            drop(turn);
            finished.recv_timeout(Duration::from_secs(10)).unwrap();
        });
        assert_eq!(commands(&read(dir.path(), 10).0), ["second", "first"]);
    }

    #[test]
    fn what_an_append_creates_is_given_to_the_owner_across_a_rotation() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: giving files to another user needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let owner = Owner {
            uid: 12345,
            gid: 12345,
        };
        let data = DataDir::new(
            dir.path().join("data").join("app"),
            Ownership::with_owner(dir.path(), Some(owner)),
        );
        let long = "x".repeat(400 * 1024);
        for index in 0..4 {
            append(&data, &entry(&format!("{index} {long}"))).unwrap();
        }
        assert!(data.join(ROTATED_FILE_NAME).exists());
        for path in [
            dir.path().join("data"),
            data.to_path_buf(),
            data.join(FILE_NAME),
            data.join(ROTATED_FILE_NAME),
        ] {
            let metadata = std::fs::metadata(&path).unwrap();
            assert_eq!(
                (metadata.uid(), metadata.gid()),
                (12345, 12345),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn a_link_planted_as_the_history_is_neither_appended_to_nor_read() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "kept\n").unwrap();
        let data = data_dir(&dir.path().join("app"));
        data.create().unwrap();
        std::os::unix::fs::symlink(&target, data.join(FILE_NAME)).unwrap();
        let error = append(&data, &entry("planted")).unwrap_err();
        assert!(error.to_string().contains("is a symbolic link"), "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "kept\n");
        let (entries, warnings) = read(&data, 10);
        assert!(entries.is_empty());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("is a symbolic link"), "{warnings:?}");
    }

    #[test]
    fn a_history_larger_than_the_plugin_writes_is_not_read_for_its_oldest_part_but_warned_of() {
        let dir = tempfile::tempdir().unwrap();
        let data = data_dir(&dir.path().join("app"));
        data.create().unwrap();
        let line = serde_json::to_string(&entry("old")).unwrap() + "\n";
        let lines = READ_LIMIT / line.len() + 2;
        std::fs::write(data.join(FILE_NAME), line.repeat(lines)).unwrap();
        append_unchecked(&data, "newest");
        let (entries, warnings) = read(&data, 3);
        assert!(entries.is_empty(), "read from the start of a foreign file");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("more than the plugin writes"),
            "{warnings:?}"
        );
    }

    /// Appends an entry past the rotation, as a hand might.
    fn append_unchecked(data: &DataDir, command: &str) {
        let line = serde_json::to_string(&entry(command)).unwrap() + "\n";
        let mut file = OpenOptions::new()
            .append(true)
            .open(data.join(FILE_NAME))
            .unwrap();
        file.write_all(line.as_bytes()).unwrap();
    }
}
