use super::*;
use proptest::prelude::*;

/// A tar of one file `f` (content `data`) with the PAX records `pax` before it.
fn tar_with(kind: tar::EntryType, pax: &[(&str, &[u8])], data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    if kind == tar::EntryType::XGlobalHeader {
        let mut body = Vec::new();
        for (k, v) in pax {
            push_record(&mut body, k.as_bytes(), v);
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(body.len() as u64);
        h.set_cksum();
        b.append_data(&mut h, "pax_global_header", &body[..])
            .unwrap();
    } else {
        b.append_pax_extensions(pax.iter().map(|(k, v)| (*k, *v)))
            .unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_cksum();
    b.append_data(&mut h, "f", data).unwrap();
    b.into_inner().unwrap()
}

fn filtered(tar: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    PaxFilter::new(tar).read_to_end(&mut out)?;
    Ok(out)
}

/// What the tar crate reads of each entry: path, size, data, and the (decoded) records.
type Seen = (Vec<u8>, u64, Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>);

fn read_back(tar: &[u8]) -> Vec<Seen> {
    let mut a = tar::Archive::new(tar);
    let mut seen = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mut records = Vec::new();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for ext in exts {
                let ext = ext.unwrap();
                let (k, v) = (ext.key_bytes(), ext.value_bytes());
                records.push(match decode_record(k, v) {
                    Some(r) => r.unwrap(),
                    None => (k.to_vec(), v.to_vec()),
                });
            }
        }
        let path = e.path_bytes().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        seen.push((path, e.size(), data, records));
    }
    seen
}

fn rec(k: &str, v: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (k.as_bytes().to_vec(), v.to_vec())
}

#[test]
fn a_tar_without_newlines_passes_byte_for_byte() {
    let tar = tar_with(
        tar::EntryType::XHeader,
        &[("SCHILY.xattr.user.a", b"v"), ("mtime", b"1.5")],
        b"hello",
    );
    assert_eq!(filtered(&tar).unwrap(), tar);
}

#[test]
fn a_value_with_a_newline_is_re_encoded_and_the_records_after_it_kept() {
    let tar = tar_with(
        tar::EntryType::XHeader,
        &[
            ("SCHILY.xattr.security.capability", b"\x01\n\x00\n"),
            ("SCHILY.xattr.user.b", b"x\ny"),
            ("uid", b"1234"),
            ("mtime", b"7.25"),
        ],
        b"data",
    );
    // Unfiltered, the tar crate loses the records after the first newline.
    let mut a = tar::Archive::new(&tar[..]);
    assert_eq!(
        a.entries()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .header()
            .uid()
            .unwrap(),
        0
    );
    let out = filtered(&tar).unwrap();
    let seen = read_back(&out);
    assert_eq!(seen.len(), 1);
    let (path, size, data, records) = &seen[0];
    assert_eq!((&path[..], *size, &data[..]), (&b"f"[..], 4, &b"data"[..]));
    assert_eq!(
        records,
        &[
            rec("SCHILY.xattr.security.capability", b"\x01\n\x00\n"),
            rec("SCHILY.xattr.user.b", b"x\ny"),
            rec("uid", b"1234"),
            rec("mtime", b"7.25"),
        ]
    );
    let mut a = tar::Archive::new(&out[..]);
    assert_eq!(
        a.entries()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .header()
            .uid()
            .unwrap(),
        1234
    );
}

#[test]
fn a_key_with_a_newline_is_re_encoded() {
    let tar = tar_with(
        tar::EntryType::XHeader,
        &[("SCHILY.xattr.user.a\nb", b"v")],
        b"",
    );
    let seen = read_back(&filtered(&tar).unwrap());
    assert_eq!(seen[0].3, [rec("SCHILY.xattr.user.a\nb", b"v")]);
}

#[test]
fn a_global_header_with_a_newline_is_re_encoded() {
    let tar = tar_with(
        tar::EntryType::XGlobalHeader,
        &[("comment", b"two\nlines"), ("LIBARCHIVE.x", b"y")],
        b"after",
    );
    let seen = read_back(&filtered(&tar).unwrap());
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].3,
        [rec("comment", b"two\nlines"), rec("LIBARCHIVE.x", b"y")]
    );
    assert_eq!((&seen[1].0[..], &seen[1].2[..]), (&b"f"[..], &b"after"[..]));
}

#[test]
fn a_path_with_a_newline_becomes_a_gnu_long_name() {
    let tar = tar_with(
        tar::EntryType::XHeader,
        &[
            ("path", b"dir/a\nb"),
            ("linkpath", b"t\n"),
            ("SCHILY.xattr.user.k", b"v"),
        ],
        b"x",
    );
    let seen = read_back(&filtered(&tar).unwrap());
    assert_eq!(seen.len(), 1);
    assert_eq!(&seen[0].0, b"dir/a\nb");
    assert_eq!(seen[0].3, [rec("SCHILY.xattr.user.k", b"v")]);
    let out = filtered(&tar).unwrap();
    let mut a = tar::Archive::new(&out[..]);
    let e = a.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(e.link_name_bytes().unwrap().as_ref(), b"t\n");
}

/// A header claiming 0 bytes, a PAX `size` of 1500 (and a record to re-encode): the
/// filter must skip 1500 bytes of data to find the next header, as tar does.
#[test]
fn a_pax_size_overrides_the_header_size() {
    let big: Vec<u8> = (0..1500u32).map(|i| (i % 251) as u8).collect();
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("size", &b"1500"[..]), ("SCHILY.xattr.user.n", b"\n")])
        .unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_path("big").unwrap();
    h.set_size(0);
    h.set_mode(0o644);
    h.set_cksum();
    b.get_mut().extend_from_slice(h.as_bytes());
    push_padded(b.get_mut(), &big);
    let mut h = tar::Header::new_ustar();
    h.set_size(2);
    h.set_cksum();
    b.append_data(&mut h, "next", &b"ok"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let seen = read_back(&filtered(&tar).unwrap());
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (&seen[0].0[..], seen[0].1, &seen[0].2),
        (&b"big"[..], 1500, &big)
    );
    assert_eq!((&seen[1].0[..], &seen[1].2[..]), (&b"next"[..], &b"ok"[..]));
}

/// A tar whose one PAX entry holds `body` as it is.
fn raw_pax(body: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.set_path("PaxHeaders/f").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(body.len() as u64);
    h.set_cksum();
    let mut tar = h.as_bytes().to_vec();
    push_padded(&mut tar, body);
    let mut f = tar::Header::new_ustar();
    f.set_path("f").unwrap();
    f.set_size(0);
    f.set_cksum();
    tar.extend_from_slice(f.as_bytes());
    tar.extend_from_slice(&[0; 1024]);
    tar
}

#[test]
fn malformed_records_are_a_clear_error_naming_the_entry() {
    for (body, why) in [
        (&b"99 a=b\n"[..], "runs past"),
        (b"x a=b\n", "no length prefix"),
        (b"0 a=b\n", "too small"),
        (b"8 ab=c\nX", "newline"),
        (b"6 abc\n", "no '='"),
        (b"5 =b\n", "empty key"),
        (b"6a a=b\n", "no space"),
        (b"99999999999999999999 a=b\n", "no length prefix"),
        (b"9 size=\n\n", "a number"),
        (b"6 a=b\n7 a=b\nx", "byte 6"),
    ] {
        let err = filtered(&raw_pax(body)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("PaxHeaders/f"), "{msg}");
        assert!(msg.contains(why), "{body:?}: {msg}");
    }
}

#[test]
fn nul_padding_after_the_records_is_accepted() {
    let tar = raw_pax(b"6 a=b\n\0\0\0");
    assert_eq!(filtered(&tar).unwrap(), tar);
}

#[test]
fn an_oversized_pax_entry_is_refused() {
    let mut h = tar::Header::new_ustar();
    h.set_path("PaxHeaders/huge").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(MAX_PAX + 1);
    h.set_cksum();
    let err = filtered(h.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("more than"), "{err}");
}

#[test]
fn a_bad_checksum_passes_the_rest_unchanged() {
    let mut tar = raw_pax(b"8 a=b\nc\n");
    tar[148] = b'7';
    assert_eq!(filtered(&tar).unwrap(), tar);
}

#[test]
fn record_lengths_count_their_own_digits() {
    for n in [0usize, 1, 3, 4, 5, 90, 93, 94, 95, 996, 997, 998, 10_000] {
        let mut out = Vec::new();
        push_record(&mut out, b"k", &vec![b'v'; n]);
        let (len, k, v) = parse_record(&out).unwrap();
        assert_eq!((len, k, v.len()), (out.len(), &b"k"[..], n));
    }
}

/// A layer cannot smuggle a record in the filter's own encoding: it decodes to itself.
#[test]
fn a_layers_own_tug_hex_record_is_not_decoded() {
    let smuggled = format!(
        "TUG.hex.{}",
        String::from_utf8(hex(b"SCHILY.xattr.user.x")).unwrap()
    );
    let tar = tar_with(tar::EntryType::XHeader, &[(&smuggled, b"7676")], b"");
    let seen = read_back(&filtered(&tar).unwrap());
    assert_eq!(seen[0].3, [rec(&smuggled, b"7676")]);
}

/// An `x` header without a ustar magic is, for the tar crate, an entry of its own: its
/// `size` record does not apply to the next entry, and the filter must agree.
#[test]
fn an_x_header_without_magic_is_an_ordinary_entry() {
    let body = b"12 size=700\n";
    let mut h = tar::Header::new_old();
    h.set_path("v7x").unwrap();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_size(body.len() as u64);
    h.set_cksum();
    let mut tar = h.as_bytes().to_vec();
    push_padded(&mut tar, body);
    let mut b = tar::Builder::new(tar);
    let mut h = tar::Header::new_ustar();
    h.set_size(2);
    h.set_uid(0);
    h.set_cksum();
    b.append_data(&mut h, "f", &b"ok"[..]).unwrap();
    b.append_pax_extensions([("SCHILY.xattr.user.a", &b"\n"[..])])
        .unwrap();
    b.append_data(&mut h, "g", &b"ok"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let seen = read_back(&filtered(&tar).unwrap());
    assert_eq!(seen.len(), 3);
    assert_eq!((&seen[1].0[..], &seen[1].2[..]), (&b"f"[..], &b"ok"[..]));
    assert_eq!(&seen[2].0, b"g");
    assert_eq!(seen[2].3, [rec("SCHILY.xattr.user.a", b"\n")]);
}

#[test]
fn a_global_path_with_a_newline_is_not_a_long_name() {
    let tar = tar_with(tar::EntryType::XGlobalHeader, &[("path", b"a\nb")], b"z");
    let seen = read_back(&filtered(&tar).unwrap());
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].3, [rec("path", b"a\nb")]);
    assert_eq!(&seen[1].0, b"f");
}

/// A GNU sparse entry (with its extension blocks) is not parsed: the rest of the stream
/// passes through as it is, and the tar crate reads it as before.
#[test]
fn a_gnu_sparse_entry_passes_the_rest_unchanged() {
    let mut h = tar::Header::new_gnu();
    h.set_path("sparse").unwrap();
    h.set_entry_type(tar::EntryType::GNUSparse);
    h.set_size(0);
    h.set_cksum();
    let mut tar = h.as_bytes().to_vec();
    tar.extend_from_slice(&raw_pax(b"8 a=b\nc\n"));
    assert_eq!(filtered(&tar).unwrap(), tar);
}

/// A ustar header of `kind` for `name`, claiming `size` bytes, then `body`, padded.
fn push_entry(tar: &mut Vec<u8>, kind: tar::EntryType, name: &str, size: u64, body: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).unwrap();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
    tar.extend_from_slice(h.as_bytes());
    push_padded(tar, body);
}

/// One member of a generated tar: a file (with its PAX records, and whether its size is
/// given only by a PAX `size` record), or a global PAX header.
#[derive(Debug, Clone)]
enum Member {
    File {
        data: Vec<u8>,
        records: Vec<(String, Vec<u8>)>,
        pax_size: bool,
    },
    Global(Vec<(String, Vec<u8>)>),
}

fn records() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let value = prop::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..30);
    prop::collection::vec(("SCHILY\\.xattr\\.user\\.[^=]{1,6}|comment", value), 0..4)
}

fn member() -> impl Strategy<Value = Member> {
    prop_oneof![
        4 => (prop::collection::vec(any::<u8>(), 0..1300), records(), any::<bool>())
            .prop_map(|(data, records, pax_size)| Member::File { data, records, pax_size }),
        1 => records().prop_map(Member::Global),
    ]
}

proptest! {
    /// Any records (any bytes but '=' in the key) reach the tar crate's reader intact.
    #[test]
    fn any_records_round_trip(
        records in prop::collection::vec(
            ("[a-zA-Z.]{0,3}[^=]{0,8}", prop::collection::vec(any::<u8>(), 0..40)),
            0..6,
        ),
        data in prop::collection::vec(any::<u8>(), 0..700),
    ) {
        let records: Vec<(String, Vec<u8>)> = records
            .into_iter()
            .map(|(k, v)| (format!("SCHILY.xattr.user.{k}"), v))
            .collect();
        let pax: Vec<(&str, &[u8])> =
            records.iter().map(|(k, v)| (k.as_str(), &v[..])).collect();
        let tar = tar_with(tar::EntryType::XHeader, &pax, &data);
        let seen = read_back(&filtered(&tar).unwrap());
        prop_assert_eq!(seen.len(), 1);
        prop_assert_eq!(&seen[0].2, &data);
        let want: Vec<_> = records
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect();
        prop_assert_eq!(&seen[0].3, &want);
    }

    /// Garbage never panics the filter, and one byte changed in a tar either reads or
    /// fails with an error.
    #[test]
    fn hostile_bytes_never_panic(
        garbage in prop::collection::vec(any::<u8>(), 0..3000),
        at in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let _ = filtered(&garbage);
        let mut tar = tar_with(
            tar::EntryType::XHeader,
            &[("SCHILY.xattr.user.a", b"1\n2"), ("size", b"3")],
            b"abc",
        );
        let i = at % tar.len();
        tar[i] = byte;
        let _ = filtered(&tar);
    }

    /// Any sequence of files (some sized only by PAX) and global headers, with records
    /// holding newlines: the tar crate reads the filtered stream as it was written.
    #[test]
    fn any_member_sequence_reads_back(members in prop::collection::vec(member(), 0..6)) {
        let mut tar = Vec::new();
        let mut want = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let name = format!("m{i}");
            match m {
                Member::File { data, records, pax_size } => {
                    let mut body = Vec::new();
                    let mut recs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
                    if *pax_size {
                        let n = data.len().to_string();
                        push_record(&mut body, b"size", n.as_bytes());
                        recs.push((b"size".to_vec(), n.into_bytes()));
                    }
                    for (k, v) in records {
                        push_record(&mut body, k.as_bytes(), v);
                        recs.push((k.as_bytes().to_vec(), v.clone()));
                    }
                    if !body.is_empty() {
                        let len = body.len() as u64;
                        push_entry(&mut tar, tar::EntryType::XHeader, "PaxHeader", len, &body);
                    }
                    let size = if *pax_size { 0 } else { data.len() as u64 };
                    let mut t = Vec::new();
                    push_entry(&mut t, tar::EntryType::Regular, &name, size, b"");
                    tar.extend_from_slice(&t[..BLOCK]);
                    push_padded(&mut tar, data);
                    want.push((name.into_bytes(), data.len() as u64, data.clone(), recs));
                }
                Member::Global(records) => {
                    let mut body = Vec::new();
                    for (k, v) in records {
                        push_record(&mut body, k.as_bytes(), v);
                    }
                    let len = body.len() as u64;
                    push_entry(&mut tar, tar::EntryType::XGlobalHeader, &name, len, &body);
                    let recs = records
                        .iter()
                        .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                        .collect();
                    want.push((name.into_bytes(), 0, Vec::new(), recs));
                }
            }
        }
        tar.extend_from_slice(&[0; 1024]);
        let mut seen = read_back(&filtered(&tar).unwrap());
        for (s, m) in seen.iter_mut().zip(&members) {
            if matches!(m, Member::Global(_)) {
                s.1 = 0; // its size is that of its records, re-encoded or not
            }
        }
        prop_assert_eq!(seen, want);
    }
}

/// The filter's own cost: `TUG_BENCH_TAR=/path/to.tar cargo test --release -p tug --lib
/// layer::pax::tests::filter_speed -- --ignored --nocapture`.
#[test]
#[ignore = "a benchmark: needs TUG_BENCH_TAR"]
fn filter_speed() {
    let Some(path) = std::env::var_os("TUG_BENCH_TAR") else {
        return;
    };
    let tar = std::fs::read(path).unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    for filter in [false, true, false, true] {
        let start = std::time::Instant::now();
        let mut r: Box<dyn Read> = if filter {
            Box::new(PaxFilter::new(&tar[..]))
        } else {
            Box::new(&tar[..])
        };
        let mut n = 0;
        // Reads as the tar crate does: a header block, then the entry's data.
        loop {
            let got = r.read(&mut buf[..BLOCK]).unwrap();
            if got == 0 {
                break;
            }
            n += got;
            let got = r.read(&mut buf).unwrap();
            n += got;
        }
        eprintln!("filter={filter}: {n} bytes in {:?}", start.elapsed());
    }
}
