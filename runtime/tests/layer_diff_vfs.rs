//! `commit` and `diff` for the `vfs` driver, whose containers have a full copy of the
//! layers instead of an upper dir: the changes found by comparing the copy with the
//! layers, written as a layer that reproduces the container's view.

mod layer_diff_support;
mod layer_support;

use layer_diff_support::{base_layer, change_through, mount, top_layer, unpack_chain};
use layer_support::{Scratch, tree};
use tug::Digest;
use tug::snapshot::{Rootfs, Snapshots, chain_ids, copy_changes};

#[test]
fn committed_copy_reproduces_the_containers_view() {
    let s = Scratch::new();
    let snaps = Snapshots::open(s.dir.path()).unwrap();
    let lowers = unpack_chain(&snaps, &[base_layer(), top_layer()]);
    let c = s.dir.path().join("c");
    let image = Rootfs {
        lowers: lowers.clone(),
        upper: c.join("upper"),
        work: c.join("work"),
        volatile: false,
    };
    let copy = c.join("rootfs");
    image.copy_into(&copy).unwrap();
    change_through(&copy);
    let view = tree(&copy);

    let changes = copy_changes(&copy, &lowers).unwrap();
    let lines: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
    insta::assert_snapshot!(lines.join("\n"));

    let mut tar = Vec::new();
    let stats = tug::layer::write_changes(&copy, &changes, &mut tar).unwrap();
    assert_eq!(stats.diff_id, Digest::of(&tar));
    let mut gz = Vec::new();
    let g = tug::layer::write_changes_gzip(&copy, &changes, &mut gz).unwrap();
    assert_eq!(g.diff, stats);
    assert_eq!(g.digest, Digest::of(&gz));

    let mut diffs: Vec<Digest> = [base_layer(), top_layer()]
        .iter()
        .map(|l| Digest::of(l))
        .collect();
    diffs.push(stats.diff_id.clone());
    let chain = chain_ids(&diffs).pop().unwrap();
    let layer = snaps
        .ensure_from_reader(&chain, &stats.diff_id, &tar[..])
        .unwrap();
    let mut new_lowers = lowers.clone();
    new_lowers.push(layer);
    let c2 = s.dir.path().join("c2");
    let next = Rootfs {
        lowers: new_lowers,
        upper: c2.join("upper"),
        work: c2.join("work"),
        volatile: false,
    };
    next.copy_into(&c2.join("copy")).unwrap();
    assert_eq!(tree(&c2.join("copy")), view);
    let _m = mount(&next, &c2.join("merged"));
    assert_eq!(tree(&c2.join("merged")), view);
}

#[test]
fn an_untouched_copy_has_no_changes() {
    let s = Scratch::new();
    let snaps = Snapshots::open(s.dir.path()).unwrap();
    let lowers = unpack_chain(&snaps, &[base_layer(), top_layer()]);
    let c = s.dir.path().join("c");
    let image = Rootfs {
        lowers: lowers.clone(),
        upper: c.join("upper"),
        work: c.join("work"),
        volatile: false,
    };
    image.copy_into(&c.join("rootfs")).unwrap();
    assert_eq!(copy_changes(&c.join("rootfs"), &lowers).unwrap(), []);
}
