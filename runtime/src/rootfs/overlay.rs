//! The overlay rootfs: the layer dirs as overlayfs lower dirs (top first) under the
//! container's upper and work dirs.
//!
//! `mount(2)` takes its options in one page (4096 bytes), which about 45 layers under
//! `/var/lib/tug/snapshots` fill. When the options do not fit, or a path holds a
//! character the option syntax gives a meaning to (`,` `:` `\`), the mount is made with
//! the new mount API instead: `fsopen("overlay")` and one `lowerdir+` per layer (Linux
//! ≥ 6.8), which has neither limit.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags, fsconfig_create,
    fsconfig_set_string, fsmount, fsopen, move_mount,
};

use super::{Error, Rootfs, io_err};

/// The most that `mount(2)` copies of its data argument (one page).
const MOUNT_DATA_MAX: usize = 4095;

pub(super) fn mount(rootfs: &Rootfs, target: &Path) -> Result<(), Error> {
    let lowers: Vec<PathBuf> = if rootfs.lowers.is_empty() {
        // overlayfs needs a lower dir; an image without layers gets an empty one.
        let mut name = rootfs.work.as_os_str().to_os_string();
        name.push("-empty");
        let empty = PathBuf::from(name);
        std::fs::create_dir_all(&empty).map_err(|e| io_err(empty.display(), e))?;
        vec![empty]
    } else {
        rootfs.lowers.iter().rev().cloned().collect()
    };
    for d in [&rootfs.upper, &rootfs.work] {
        std::fs::create_dir_all(d).map_err(|e| io_err(d.display(), e))?;
    }
    clear_volatile_mark(&rootfs.work);
    let mount_err = |source: std::io::Error| Error::Mount {
        target: target.to_path_buf(),
        source,
    };
    let attempt = |volatile: bool| -> std::io::Result<()> {
        match legacy_options(&lowers, &rootfs.upper, &rootfs.work, volatile) {
            Some(data) => rustix::mount::mount(
                "overlay",
                target,
                "overlay",
                MountFlags::empty(),
                Some(data.as_c_str()),
            )
            .map_err(Into::into),
            None => new_api_mount(&lowers, &rootfs.upper, &rootfs.work, volatile, target),
        }
    };
    match attempt(rootfs.volatile) {
        // A kernel before 5.10 knows no `volatile`: the mount is made without it.
        Err(e) if rootfs.volatile && e.raw_os_error() == Some(libc::EINVAL) => {
            attempt(false).map_err(mount_err)
        }
        r => r.map_err(mount_err),
    }
}

/// Removes the mark (`<work>/work/incompat/volatile/dirty`) that a `volatile` mount
/// leaves in its work dir, with which overlayfs refuses any later mount of the dirs. tug
/// mounts a volatile rootfs only where its contents are not kept across a crash, so a
/// later mount (a `restart` of a `--rm` container) may take the dirs as they are.
fn clear_volatile_mark(work: &Path) {
    let _ = std::fs::remove_dir_all(work.join("work").join("incompat"));
}

/// The `mount(2)` option string, if it fits in a page and needs no escaping.
fn legacy_options(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    volatile: bool,
) -> Option<std::ffi::CString> {
    let plain = |p: &Path| {
        !p.as_os_str()
            .as_bytes()
            .iter()
            .any(|b| b",:\\\0".contains(b))
    };
    if !lowers.iter().all(|p| plain(p)) || !plain(upper) || !plain(work) {
        return None;
    }
    let mut data = b"lowerdir=".to_vec();
    for (i, l) in lowers.iter().enumerate() {
        if i > 0 {
            data.push(b':');
        }
        data.extend_from_slice(l.as_os_str().as_bytes());
    }
    data.extend_from_slice(b",upperdir=");
    data.extend_from_slice(upper.as_os_str().as_bytes());
    data.extend_from_slice(b",workdir=");
    data.extend_from_slice(work.as_os_str().as_bytes());
    if volatile {
        data.extend_from_slice(b",volatile");
    }
    if data.len() > MOUNT_DATA_MAX {
        return None;
    }
    // No NUL byte: `plain` checked every path.
    std::ffi::CString::new(data).ok()
}

/// Mounts with fsopen/fsconfig/fsmount/move_mount, one `lowerdir+` per layer.
fn new_api_mount(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    volatile: bool,
    target: &Path,
) -> std::io::Result<()> {
    let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    fsconfig_set_string(&fs, "source", "overlay")?;
    for l in lowers {
        fsconfig_set_string(&fs, "lowerdir+", l.as_os_str()).map_err(|e| {
            std::io::Error::new(
                std::io::Error::from(e).kind(),
                format!(
                    "overlayfs refused lowerdir+ {} (Linux ≥ 6.8 is needed for more than a page of lower dirs): {e}",
                    l.display()
                ),
            )
        })?;
    }
    fsconfig_set_string(&fs, "upperdir", upper.as_os_str())?;
    fsconfig_set_string(&fs, "workdir", work.as_os_str())?;
    if volatile {
        rustix::mount::fsconfig_set_flag(&fs, "volatile")?;
    }
    fsconfig_create(&fs)?;
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
    move_mount(
        &mnt,
        OsStr::new(""),
        rustix::fs::CWD,
        target,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_list_lowers_top_first_and_give_up_past_a_page() {
        let lowers = vec![PathBuf::from("/s/b"), PathBuf::from("/s/a")];
        let o = legacy_options(&lowers, Path::new("/c/u"), Path::new("/c/w"), false).unwrap();
        assert_eq!(
            o.to_str().unwrap(),
            "lowerdir=/s/b:/s/a,upperdir=/c/u,workdir=/c/w"
        );
        let v = legacy_options(&lowers, Path::new("/c/u"), Path::new("/c/w"), true).unwrap();
        assert_eq!(
            v.to_str().unwrap(),
            "lowerdir=/s/b:/s/a,upperdir=/c/u,workdir=/c/w,volatile"
        );
        let many: Vec<PathBuf> = (0..100)
            .map(|i| PathBuf::from(format!("/var/lib/tug/snapshots/{i:064}")))
            .collect();
        assert!(legacy_options(&many, Path::new("/u"), Path::new("/w"), false).is_none());
        let odd = vec![PathBuf::from("/s/a,b")];
        assert!(legacy_options(&odd, Path::new("/u"), Path::new("/w"), false).is_none());
    }
}
