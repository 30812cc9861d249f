use proptest::prelude::*;

use super::*;

/// One entry of a generated layer.
#[derive(Debug, Clone)]
enum Entry {
    File(usize),
    /// A symlink whose target has this many bytes (past 100: a GNU long link name).
    Symlink(usize),
    /// A second name of the file entry before it (none: skipped).
    HardLink,
    Dir,
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        4 => (0usize..3000).prop_map(Entry::File),
        2 => (1usize..250).prop_map(Entry::Symlink),
        1 => Just(Entry::HardLink),
        1 => Just(Entry::Dir),
    ]
}

/// The tar of `entries` (names e0, e1, ... at the top) as the tar crate writes it.
fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut last_file = None;
    for (i, e) in entries.iter().enumerate() {
        let name = format!("e{i}");
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(1);
        match e {
            Entry::File(n) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(*n as u64);
                b.append_data(&mut h, &name, &vec![b'x'; *n][..]).unwrap();
                last_file = Some(name);
            }
            Entry::Symlink(n) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, &name, "t".repeat(*n)).unwrap();
            }
            Entry::HardLink => {
                if let Some(target) = &last_file {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    b.append_link(&mut h, &name, target).unwrap();
                }
            }
            Entry::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, &name, std::io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Feeds `data` in pieces of the sizes `cuts` gives, in turn.
fn fed(data: &[u8], cuts: &[usize]) -> u64 {
    let mut c = ContentSize::new();
    let mut rest = data;
    let mut k = 0;
    while !rest.is_empty() {
        let n = cuts[k % cuts.len()].clamp(1, rest.len());
        c.feed(&rest[..n]);
        rest = &rest[n..];
        k += 1;
    }
    c.total()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The sum is what the unpacked layer's files take, as Docker measures a layer dir
    /// (apparent sizes, a hard link once, a symlink its target's length), whatever the
    /// pieces the stream comes in.
    #[test]
    fn the_sum_is_the_unpacked_files_sizes(
        entries in proptest::collection::vec(arb_entry(), 0..24),
        cuts in proptest::collection::vec(1usize..1500, 1..6),
    ) {
        let data = tar_of(&entries);
        let dir = tempfile::tempdir().unwrap();
        tar::Archive::new(&data[..]).unpack(dir.path()).unwrap();
        let on_disk = crate::fsutil::dir_size(dir.path());
        prop_assert_eq!(fed(&data, &cuts), on_disk);
        prop_assert_eq!(fed(&data, &[data.len().max(1)]), on_disk);
    }

    #[test]
    fn any_bytes_are_taken_without_a_panic(
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(1usize..700, 1..4),
    ) {
        let _ = fed(&data, &cuts);
    }
}

#[test]
fn pax_size_and_linkpath_records_are_read() {
    let mut b = tar::Builder::new(Vec::new());
    // A PAX header saying the next file has 700 bytes and the symlink after a long target.
    let pax = |records: &[(&str, &str)]| -> Vec<u8> {
        let mut body = Vec::new();
        for (k, v) in records {
            // The record's length counts its own digits.
            let rest = format!(" {k}={v}\n");
            let mut len = rest.len() + 1;
            while len != rest.len() + len.to_string().len() {
                len = rest.len() + len.to_string().len();
            }
            body.extend_from_slice(format!("{len}{rest}").as_bytes());
        }
        body
    };
    let add_pax = |b: &mut tar::Builder<Vec<u8>>, body: Vec<u8>| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(body.len() as u64);
        h.set_path("pax").unwrap();
        h.set_cksum();
        b.append(&h, &body[..]).unwrap();
    };
    add_pax(&mut b, pax(&[("size", "700"), ("mtime", "1")]));
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(700);
    h.set_path("f").unwrap();
    h.set_cksum();
    b.append(&h, &[b'y'; 700][..]).unwrap();
    let target = "x".repeat(300);
    add_pax(&mut b, pax(&[("linkpath", &target)]));
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_path("l").unwrap();
    h.set_cksum();
    b.append(&h, std::io::empty()).unwrap();
    let data = b.into_inner().unwrap();
    assert_eq!(fed(&data, &[data.len()]), 700 + 300);
    assert_eq!(fed(&data, &[1, 7, 511, 512, 513]), 700 + 300);
}

#[test]
fn numbers_are_octal_or_base_256() {
    assert_eq!(field_number(b"00000001750\0"), 1000);
    assert_eq!(field_number(b"     1750 \0\0"), 1000);
    let mut big = [0u8; 12];
    big[0] = 0x80;
    big[11] = 0x02;
    big[10] = 0x01;
    assert_eq!(field_number(&big), 0x0102);
}
