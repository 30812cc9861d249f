//! Keeping an idle shim small: after the start, the pages of code and read-only data that
//! the start touched (clap, serde, the sandbox set-up) are dropped from the shim's
//! resident set; they stay in the page cache and fault back in if ever needed again.

/// Drops the resident pages of every read-only file mapping that holds no private
/// (copied-on-write) page, so that dropping them loses nothing: the next access reads the
/// same bytes from the file. Writable mappings and relocated read-only data are left.
pub fn release_clean_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-')
            && let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        {
            // A mapping's header: "start-end perms offset dev inode [path]".
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            let file_backed = path.starts_with('/');
            current = (file_backed
                && perms.starts_with('r')
                && !perms.contains('w')
                && perms.ends_with('p'))
            .then_some((start, end));
            continue;
        }
        if first == "Anonymous:"
            && let Some((start, end)) = current.take()
            && fields.next() == Some("0")
        {
            // SAFETY: the range is a whole private read-only file mapping of this process
            // without private pages: MADV_DONTNEED only drops pages that fault back in
            // unchanged from the file.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}
