//! The laws every [`Store`] keeps, as one test routine each backend runs.

use crdt_core::sync::DocId;

use super::Store;

fn doc(s: &str) -> DocId {
    DocId::new(s).unwrap()
}

/// Runs every law against `store`, which must not hold documents named `conf/*`.
pub(crate) fn run_all(store: &dyn Store) {
    let (a, b) = (doc("conf/a"), doc("conf/b"));
    assert_eq!(
        store.load(&a).unwrap(),
        Default::default(),
        "unknown docs are empty"
    );

    // Appends keep their order per document and interleave across documents.
    store
        .append(&[
            (a.clone(), vec![1]),
            (b.clone(), vec![10]),
            (a.clone(), vec![2]),
        ])
        .unwrap();
    store.append(&[(a.clone(), vec![3])]).unwrap();
    let loaded = store.load(&a).unwrap();
    let bytes: Vec<_> = loaded.batches.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(bytes, vec![vec![1], vec![2], vec![3]]);
    assert!(
        loaded.batches.windows(2).all(|w| w[0].0 < w[1].0),
        "seqs grow"
    );
    assert_eq!(store.load(&b).unwrap().batches.len(), 1);

    // needing_compaction counts batches since the snapshot.
    assert_eq!(store.needing_compaction(2).unwrap(), vec![a.clone()]);
    assert!(store.needing_compaction(3).unwrap().is_empty());

    // Compacting up to the second batch keeps the third, and a batch appended after the
    // snapshot was taken (seq above `upto`) survives.
    let upto = loaded.batches[1].0;
    store.append(&[(a.clone(), vec![4])]).unwrap();
    store.compact(&a, b"snap", upto).unwrap();
    let after = store.load(&a).unwrap();
    assert_eq!(after.snapshot.as_deref(), Some(&b"snap"[..]));
    let bytes: Vec<_> = after.batches.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(bytes, vec![vec![3], vec![4]]);
    assert_eq!(after.last_seq(), after.batches[1].0);
    // Other documents are untouched.
    assert_eq!(store.load(&b).unwrap().batches.len(), 1);
    assert!(store.load(&b).unwrap().snapshot.is_none());

    // A newer snapshot replaces the older one.
    store.compact(&a, b"snap2", after.last_seq()).unwrap();
    let last = store.load(&a).unwrap();
    assert_eq!(last.snapshot.as_deref(), Some(&b"snap2"[..]));
    assert!(last.batches.is_empty());
}
