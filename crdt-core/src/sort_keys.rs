//! One sort for the places that order items by up to three `u64`s: a map's concurrent values
//! by Lamport timestamp and id when a snapshot is loaded, a sequence's runs by replica and
//! counter. Every element type `slice::sort*` is called on brings its own copy of the sort into
//! the wasm build (3 KB of code or more each, wasm/README.md "Size"); sorting `(key, index)`
//! pairs instead makes all callers share one.
//!
//! The sort is `radsort`'s, a least-significant-byte radix sort: stable, linear in the items,
//! and skipping the key bytes all items share. Opening a document sorts its text's id index
//! (12,499 runs for automerge-paper) here: 5.0 M instructions with `sort_unstable`, 2.7 M with
//! it, and its code is half a kilobyte smaller in the wasm build.

/// `items` in increasing `key` order; items with equal keys keep their order (a stable sort).
/// O(n); no allocation when `items` is in order already (the usual case).
pub(crate) fn sorted_by_key<T>(items: Vec<T>, key: impl Fn(&T) -> (u64, u64, u64)) -> Vec<T> {
    if items.windows(2).all(|w| key(&w[0]) <= key(&w[1])) {
        return items;
    }
    let order = sorted_keys(items.iter().map(&key).zip(0..).collect());
    let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
    // `order` holds each index once: every slot is taken exactly once.
    order
        .into_iter()
        .filter_map(|(_, i)| slots[i].take())
        .collect()
}

/// `(key, index)` pairs in increasing key order, pairs of equal keys in the order given (a
/// stable sort). Not generic, so every caller shares its code; for callers that need the order
/// rather than the items moved.
pub(crate) fn sorted_keys(
    mut order: Vec<((u64, u64, u64), usize)>,
) -> Vec<((u64, u64, u64), usize)> {
    if order.windows(2).any(|w| w[0].0 > w[1].0) {
        radsort::sort_by_key(&mut order, |&(key, _)| key);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::sorted_by_key;

    #[test]
    fn sorts_by_key_and_keeps_the_order_of_equal_keys() {
        let items = vec![(3, 'a'), (1, 'b'), (3, 'c'), (2, 'd'), (1, 'e')];
        let sorted = sorted_by_key(items, |&(k, _)| (k, 0, 0));
        assert_eq!(sorted, [(1, 'b'), (1, 'e'), (2, 'd'), (3, 'a'), (3, 'c')]);
    }

    #[test]
    fn sorted_keys_orders_pairs_by_key_and_keeps_equal_keys_in_order() {
        let keys = [(2, 0, 0), (1, 9, 0), (2, 0, 0), (1, 3, 5), (1, 3, 4)];
        let order = super::sorted_keys(keys.iter().copied().zip(0..).collect());
        let indexes: Vec<usize> = order.iter().map(|&(_, i)| i).collect();
        assert_eq!(indexes, [4, 3, 1, 0, 2]);
    }

    #[test]
    fn compares_the_key_fields_in_order() {
        let items = vec![(2, 1, 9), (1, 5, 0), (1, 2, 7), (1, 2, 3)];
        let sorted = sorted_by_key(items.clone(), |&k| k);
        assert_eq!(sorted, [(1, 2, 3), (1, 2, 7), (1, 5, 0), (2, 1, 9)]);
        let mut expected = items;
        expected.sort();
        assert_eq!(sorted, expected);
    }
}
