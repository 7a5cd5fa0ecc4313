//! The sweep directory (DESIGN §3): `sweep.toml` (the plan), `sweep.json` (the state of each
//! run), `runs/<name>/` (run directories written by `ladder train`), plus `logs/<name>.log` (each
//! run's output, one section per attempt), `slurm/<name>.sh` (batch scripts) and `sweep.lock`
//! (held by the one runner working on the sweep).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{io, Error, Result};
use crate::plan::Plan;
use crate::state::State;

/// A sweep directory.
#[derive(Clone, Debug)]
pub struct SweepDir {
    root: PathBuf,
}

impl SweepDir {
    /// An existing sweep (it must hold sweep.toml); the path is made absolute, because batch
    /// scripts and child processes may run elsewhere.
    pub fn open(path: &Path) -> Result<SweepDir> {
        if !path.join("sweep.toml").is_file() {
            return Err(Error::NotASweep {
                path: path.to_path_buf(),
            });
        }
        let root = std::fs::canonicalize(path).map_err(io(path))?;
        Ok(SweepDir { root })
    }

    /// Writes `plan` as a new sweep at `path` (refusing to replace a plan unless `force`; runs and
    /// state of a replaced plan are kept, and runs whose entry did not change stay done).
    pub fn create(path: &Path, plan: &Plan, force: bool) -> Result<SweepDir> {
        if path.join("sweep.toml").exists() && !force {
            return Err(Error::SweepExists {
                path: path.to_path_buf(),
            });
        }
        std::fs::create_dir_all(path.join("runs")).map_err(io(path))?;
        let dir = SweepDir::open_unchecked(path)?;
        dir.save_plan(plan)?;
        Ok(dir)
    }

    fn open_unchecked(path: &Path) -> Result<SweepDir> {
        let root = std::fs::canonicalize(path).map_err(io(path))?;
        Ok(SweepDir { root })
    }

    /// The directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// sweep.toml.
    pub fn plan_path(&self) -> PathBuf {
        self.root.join("sweep.toml")
    }
    /// sweep.json.
    pub fn state_path(&self) -> PathBuf {
        self.root.join("sweep.json")
    }
    /// `runs/<name>/`.
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.root.join("runs").join(name)
    }
    /// `logs/<name>.log`.
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.root.join("logs").join(format!("{name}.log"))
    }
    /// `slurm/<name>.sh`.
    pub fn script_path(&self, name: &str) -> PathBuf {
        self.root.join("slurm").join(format!("{name}.sh"))
    }

    /// Re-reads sweep.toml.
    pub fn plan(&self) -> Result<Plan> {
        Plan::load(&self.plan_path())
    }

    /// Writes sweep.toml atomically.
    pub fn save_plan(&self, plan: &Plan) -> Result<()> {
        ladder_train::fsutil::write_atomic(&self.plan_path(), plan.to_toml().as_bytes())?;
        Ok(())
    }

    /// Reads sweep.json (an empty state when absent).
    pub fn state(&self) -> Result<State> {
        crate::state::load(&self.state_path())
    }

    /// Writes sweep.json atomically (temp, fsync, rename, fsync of the directory).
    pub fn save_state(&self, state: &State) -> Result<()> {
        ladder_train::fsutil::write_json_atomic(&self.state_path(), state)?;
        Ok(())
    }

    /// Takes the sweep's lock (`sweep.lock`, an exclusive `flock`) for one runner. The kernel
    /// releases it when the process dies, however it dies, so a lock that can be taken means no
    /// other runner is alive and runs it left `running` were interrupted.
    pub fn lock(&self) -> Result<SweepLock> {
        let path = self.root.join("sweep.lock");
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        if !try_flock(&file) {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(Error::Locked {
                path,
                holder: holder.trim().to_string(),
            });
        }
        file.set_len(0).map_err(io(&path))?;
        write!(file, "pid {}", std::process::id()).map_err(io(&path))?;
        Ok(SweepLock { _file: file })
    }

    /// Whether a runner holds the lock now (for `sweep status`).
    pub fn is_locked(&self) -> bool {
        let path = self.root.join("sweep.lock");
        match File::open(&path) {
            Ok(f) => {
                // Taking it shows nobody holds it; it is released when `f` drops.
                !try_flock(&f)
            }
            Err(_) => false,
        }
    }
}

/// The runner's hold on a sweep; released on drop (or by the kernel at exit).
pub struct SweepLock {
    _file: File,
}

#[cfg(unix)]
fn try_flock(f: &File) -> bool {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor we own; no memory is passed.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(unix))]
fn try_flock(_f: &File) -> bool {
    true
}
