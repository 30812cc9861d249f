use super::*;

#[test]
fn a_query_reads_back_with_its_name_and_type() {
    let q = Query::parse(&query(0x1234, "Web.Example", TYPE_A)).unwrap();
    assert_eq!(q.id, 0x1234);
    assert_eq!(q.name(), "web.example");
    assert_eq!((q.qtype, q.qclass), (TYPE_A, CLASS_IN));
}

#[test]
fn an_answer_echoes_the_question_and_carries_the_records() {
    let q = Query::parse(&query(7, "Db", TYPE_A)).unwrap();
    let out = q.answer(Rcode::NoError, &[Rdata::A(Ipv4Addr::new(10, 0, 0, 2))]);
    // The question as sent (its case too), right after the header.
    assert_eq!(&out[12..16], b"\x02Db\x00");
    assert_eq!(out[3] & 0x80, 0x80, "recursion available");
    assert_eq!(out[2] & 0x01, 0x01, "recursion desired echoed");
    let (id, rcode, data) = read_response(&out).unwrap();
    assert_eq!((id, rcode), (7, Rcode::NoError));
    assert_eq!(data, vec![Rdata::A(Ipv4Addr::new(10, 0, 0, 2))]);
}

#[test]
fn ptr_questions_name_an_address_and_their_answers_a_name() {
    let q = Query::parse(&query(1, "2.0.18.172.in-addr.arpa", TYPE_PTR)).unwrap();
    assert_eq!(q.ptr_address(), Some(Ipv4Addr::new(172, 18, 0, 2)));
    let out = q.answer(Rcode::NoError, &[Rdata::Ptr("web.appnet".into())]);
    let (_, _, data) = read_response(&out).unwrap();
    assert_eq!(data, vec![Rdata::Ptr("web.appnet".into())]);
    for other in ["1.2.3.in-addr.arpa", "x.2.3.4.in-addr.arpa", "example.com"] {
        let q = Query::parse(&query(1, other, TYPE_PTR)).unwrap();
        assert_eq!(q.ptr_address(), None, "{other}");
    }
}

#[test]
fn nxdomain_and_empty_answers_have_no_records() {
    let q = Query::parse(&query(9, "nope", TYPE_AAAA)).unwrap();
    let (_, rcode, data) = read_response(&q.answer(Rcode::NxDomain, &[])).unwrap();
    assert_eq!((rcode, data.len()), (Rcode::NxDomain, 0));
}

#[test]
fn short_packets_and_responses_are_dropped() {
    assert_eq!(Query::parse(&[0; 11]), Err(Malformed::Drop));
    let q = Query::parse(&query(3, "a", TYPE_A)).unwrap();
    assert_eq!(
        Query::parse(&q.answer(Rcode::NoError, &[])),
        Err(Malformed::Drop)
    );
}

#[test]
fn malformed_queries_get_formerr_and_other_opcodes_notimp() {
    let mut two = query(5, "a", TYPE_A);
    two[5] = 2;
    assert!(matches!(
        Query::parse(&two),
        Err(Malformed::Reply(5, _, Rcode::FormErr))
    ));
    let mut cut = query(5, "abc", TYPE_A);
    cut.truncate(15);
    assert!(matches!(
        Query::parse(&cut),
        Err(Malformed::Reply(5, _, Rcode::FormErr))
    ));
    let mut status = query(6, "a", TYPE_A);
    status[2] |= 2 << 3;
    assert!(matches!(
        Query::parse(&status),
        Err(Malformed::Reply(6, _, Rcode::NotImp))
    ));
    let reply = error_reply(5, 0x0100, Rcode::FormErr);
    assert_eq!(read_response(&reply).unwrap().1, Rcode::FormErr);
}

#[test]
fn compression_pointers_go_backwards_only() {
    // A pointer to itself: refused, not followed for ever.
    let mut p = query(1, "", TYPE_A);
    p.truncate(12);
    p.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert!(matches!(Query::parse(&p), Err(Malformed::Reply(..))));
    // A name too long.
    let long = vec!["a".repeat(63); 5].join(".");
    assert!(matches!(
        Query::parse(&query(1, &long, TYPE_A)),
        Err(Malformed::Reply(..))
    ));
}

proptest::proptest! {
    #[test]
    fn no_packet_makes_the_parser_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        if let Ok(q) = Query::parse(&bytes) {
            let out = q.answer(Rcode::NoError, &[Rdata::A(Ipv4Addr::LOCALHOST), Rdata::Ptr("web.appnet".into())]);
            proptest::prop_assert!(read_response(&out).is_some());
            let _ = q.ptr_address();
        }
        let _ = read_response(&bytes);
    }

    #[test]
    fn any_name_reads_back(labels in proptest::collection::vec("[a-zA-Z0-9-]{1,20}", 0..6), id in proptest::prelude::any::<u16>()) {
        let name = labels.join(".");
        let q = Query::parse(&query(id, &name, TYPE_A)).unwrap();
        proptest::prop_assert_eq!(q.id, id);
        proptest::prop_assert_eq!(q.name(), name.to_ascii_lowercase());
    }
}
