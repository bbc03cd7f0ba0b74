//! The law suite, run on every CRDT type: merge is a join (commutative, associative, idempotent);
//! every operation's delta has the operation's effect; shipping deltas equals merging full states;
//! 3-5 replicas running random operations with duplicated, reordered delivery converge; and every
//! type's decoder round-trips valid states and rejects (never panics on) hostile bytes.
//!
//! Each type gives a proptest strategy of random operations ([`LawSubject`]); the properties are
//! written once, generically, and instantiated per type by `law_suite!`.

use std::fmt::Debug;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::{Crdt, GCounter, LwwRegister, MvRegister, OrMap, OrSet, PNCounter};
use crate::clock::ReplicaId;

/// A CRDT type the law suite can drive: a strategy of operations and how to apply one.
trait LawSubject: Crdt + Debug {
    /// One local operation, with its arguments.
    type Op: Debug + Clone;

    /// Random operations, over small domains so that they collide often.
    fn op() -> BoxedStrategy<Self::Op>;

    /// Applies `op` on behalf of `replica`; returns the operation's delta.
    fn apply(&mut self, replica: ReplicaId, op: &Self::Op) -> Self;
}

impl LawSubject for GCounter {
    type Op = u64;
    fn op() -> BoxedStrategy<u64> {
        (0u64..5).boxed()
    }
    fn apply(&mut self, replica: ReplicaId, op: &u64) -> Self {
        self.increment(replica, *op)
    }
}

impl LawSubject for PNCounter {
    type Op = i64;
    fn op() -> BoxedStrategy<i64> {
        (-5i64..5).boxed()
    }
    fn apply(&mut self, replica: ReplicaId, op: &i64) -> Self {
        self.add(replica, *op)
    }
}

impl LawSubject for LwwRegister<u8> {
    /// `(timestamp, value)`: few timestamps, so that ties are common.
    type Op = (u64, u8);
    fn op() -> BoxedStrategy<(u64, u8)> {
        (0u64..4, 0u8..4).boxed()
    }
    fn apply(&mut self, replica: ReplicaId, (timestamp, value): &(u64, u8)) -> Self {
        self.set(replica, *timestamp, *value)
    }
}

#[derive(Clone, Debug)]
enum RegisterOp {
    Set(u8),
    Clear,
}

fn register_op() -> BoxedStrategy<RegisterOp> {
    prop_oneof![4 => (0u8..4).prop_map(RegisterOp::Set), 1 => Just(RegisterOp::Clear)].boxed()
}

impl LawSubject for MvRegister<u8> {
    type Op = RegisterOp;
    fn op() -> BoxedStrategy<RegisterOp> {
        register_op()
    }
    fn apply(&mut self, replica: ReplicaId, op: &RegisterOp) -> Self {
        match op {
            RegisterOp::Set(value) => self.set(replica, *value),
            RegisterOp::Clear => self.clear(),
        }
    }
}

#[derive(Clone, Debug)]
enum SetOp {
    Add(u8),
    Remove(u8),
    Clear,
}

fn set_op() -> BoxedStrategy<SetOp> {
    prop_oneof![
        5 => (0u8..4).prop_map(SetOp::Add),
        3 => (0u8..4).prop_map(SetOp::Remove),
        1 => Just(SetOp::Clear),
    ]
    .boxed()
}

impl LawSubject for OrSet<u8> {
    type Op = SetOp;
    fn op() -> BoxedStrategy<SetOp> {
        set_op()
    }
    fn apply(&mut self, replica: ReplicaId, op: &SetOp) -> Self {
        match op {
            SetOp::Add(element) => self.add(replica, *element),
            SetOp::Remove(element) => self.remove(element),
            SetOp::Clear => self.clear(),
        }
    }
}

#[derive(Clone, Debug)]
enum MapOp<Nested> {
    Update(u8, Nested),
    Remove(u8),
    Clear,
}

fn map_op<Nested: Debug + Clone + 'static>(
    nested: BoxedStrategy<Nested>,
) -> BoxedStrategy<MapOp<Nested>> {
    prop_oneof![
        6 => (0u8..3, nested).prop_map(|(key, op)| MapOp::Update(key, op)),
        2 => (0u8..3).prop_map(MapOp::Remove),
        1 => Just(MapOp::Clear),
    ]
    .boxed()
}

impl LawSubject for OrMap<u8, OrSet<u8>> {
    type Op = MapOp<SetOp>;
    fn op() -> BoxedStrategy<Self::Op> {
        map_op(set_op())
    }
    fn apply(&mut self, replica: ReplicaId, op: &Self::Op) -> Self {
        match op {
            MapOp::Update(key, nested) => self.update(*key, |set| set.apply(replica, nested)),
            MapOp::Remove(key) => self.remove(key),
            MapOp::Clear => self.clear(),
        }
    }
}

/// Maps nested in maps, down to registers: exercises the shared context at two levels.
type NestedMap = OrMap<u8, OrMap<u8, MvRegister<u8>>>;

impl LawSubject for OrMap<u8, MvRegister<u8>> {
    type Op = MapOp<RegisterOp>;
    fn op() -> BoxedStrategy<Self::Op> {
        map_op(register_op())
    }
    fn apply(&mut self, replica: ReplicaId, op: &Self::Op) -> Self {
        match op {
            MapOp::Update(key, nested) => self.update(*key, |reg| reg.apply(replica, nested)),
            MapOp::Remove(key) => self.remove(key),
            MapOp::Clear => self.clear(),
        }
    }
}

impl LawSubject for NestedMap {
    type Op = MapOp<MapOp<RegisterOp>>;
    fn op() -> BoxedStrategy<Self::Op> {
        map_op(OrMap::<u8, MvRegister<u8>>::op())
    }
    fn apply(&mut self, replica: ReplicaId, op: &Self::Op) -> Self {
        match op {
            MapOp::Update(key, nested) => self.update(*key, |inner| inner.apply(replica, nested)),
            MapOp::Remove(key) => self.remove(key),
            MapOp::Clear => self.clear(),
        }
    }
}

/// One step of a random run.
#[derive(Clone, Debug)]
enum Step<Op> {
    /// Replica `replica` (mod the replica count) performs `op`.
    Local { replica: usize, op: Op },
    /// Replica `to` receives the delta number `delta` (mod the deltas made so far): any delta,
    /// any number of times, in any order.
    Deliver { to: usize, delta: usize },
    /// Replica `to` merges the full state of replica `from`.
    SyncState { from: usize, to: usize },
}

/// A random run: a replica count, the steps, and a seed for the final delivery order.
#[derive(Clone, Debug)]
struct Schedule<Op> {
    replicas: usize,
    steps: Vec<Step<Op>>,
    seed: u64,
}

fn schedule<T: LawSubject>() -> impl Strategy<Value = Schedule<T::Op>> {
    let step = prop_oneof![
        5 => (0usize..5, T::op()).prop_map(|(replica, op)| Step::Local { replica, op }),
        4 => (0usize..5, any::<usize>()).prop_map(|(to, delta)| Step::Deliver { to, delta }),
        1 => (0usize..5, 0usize..5).prop_map(|(from, to)| Step::SyncState { from, to }),
    ];
    (3usize..=5, prop::collection::vec(step, 0..48), any::<u64>()).prop_map(
        |(replicas, steps, seed)| Schedule {
            replicas,
            steps,
            seed,
        },
    )
}

/// What a run leaves: each replica's state and every delta made, in the order made.
struct Outcome<T> {
    states: Vec<T>,
    deltas: Vec<T>,
}

/// Runs the schedule, checking on the way that each operation's delta, merged into the state
/// before the operation, gives the state after it.
fn run<T: LawSubject>(schedule: &Schedule<T::Op>) -> Result<Outcome<T>, TestCaseError> {
    let n = schedule.replicas;
    let mut states = vec![T::default(); n];
    let mut deltas = Vec::new();
    for step in &schedule.steps {
        match step {
            Step::Local { replica, op } => {
                let index = replica % n;
                let before = states[index].clone();
                let delta = states[index].apply(ReplicaId::new(index as u64 + 1), op);
                let mut expected = before;
                expected.merge(&delta);
                prop_assert_eq!(&expected, &states[index], "delta of {:?} differs", op);
                deltas.push(delta);
            }
            Step::Deliver { to, delta } => {
                if !deltas.is_empty() {
                    let delta = &deltas[delta % deltas.len()];
                    states[to % n].merge(delta);
                }
            }
            Step::SyncState { from, to } => {
                let source = states[from % n].clone();
                states[to % n].merge(&source);
            }
        }
    }
    Ok(Outcome { states, deltas })
}

/// A deterministic shuffle (xorshift), so that the final delivery order is part of the case.
fn shuffled(len: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut x = seed | 1;
    for i in (1..len).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    order
}

fn merged<T: Crdt>(a: &T, b: &T) -> T {
    let mut out = a.clone();
    out.merge(b);
    out
}

fn check_join_laws<T: LawSubject>(schedule: &Schedule<T::Op>) -> Result<(), TestCaseError> {
    let Outcome { states, deltas } = run::<T>(schedule)?;
    // States and deltas are both valid arguments of merge.
    let mut samples = states;
    samples.extend(deltas.iter().rev().take(3).cloned());
    for a in &samples {
        prop_assert_eq!(&merged(a, a), a, "idempotence");
        for b in &samples {
            prop_assert_eq!(merged(a, b), merged(b, a), "commutativity");
        }
    }
    for (a, b, c) in [(0, 1, 2), (2, 0, 1), (samples.len() - 1, 0, 1)] {
        let (a, b, c) = (&samples[a], &samples[b], &samples[c]);
        prop_assert_eq!(
            merged(&merged(a, b), c),
            merged(a, &merged(b, c)),
            "associativity"
        );
    }
    Ok(())
}

fn check_deltas_equal_states<T: LawSubject>(
    schedule: &Schedule<T::Op>,
) -> Result<(), TestCaseError> {
    let Outcome { states, deltas } = run::<T>(schedule)?;
    let joined = states.iter().fold(T::default(), |acc, s| merged(&acc, s));
    let mut from_deltas = T::default();
    for index in shuffled(deltas.len(), schedule.seed) {
        from_deltas.merge(&deltas[index]);
    }
    prop_assert_eq!(&from_deltas, &joined);
    for state in &states {
        prop_assert_eq!(&merged(&joined, state), &joined, "a state exceeds the join");
    }
    Ok(())
}

fn check_convergence<T: LawSubject>(schedule: &Schedule<T::Op>) -> Result<(), TestCaseError> {
    let Outcome { mut states, deltas } = run::<T>(schedule)?;
    for (index, state) in states.iter_mut().enumerate() {
        let order = shuffled(deltas.len(), schedule.seed.wrapping_add(index as u64));
        for (position, &delta) in order.iter().enumerate() {
            state.merge(&deltas[delta]);
            if position % 3 == 0 {
                state.merge(&deltas[delta]); // a duplicate delivery
            }
        }
    }
    for state in &states[1..] {
        prop_assert_eq!(state, &states[0]);
    }
    Ok(())
}

/// Round trip through rmp-serde, every proper prefix rejected, and mutated bytes never panic.
fn check_encoding<T: LawSubject>(
    schedule: &Schedule<T::Op>,
    flips: &[(usize, u8)],
) -> Result<(), TestCaseError> {
    let Outcome { states, deltas } = run::<T>(schedule)?;
    for value in states.iter().chain(deltas.iter().take(4)) {
        let bytes = rmp_serde::to_vec(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let decoded: T =
            rmp_serde::from_slice(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded, value);
        for end in 0..bytes.len() {
            prop_assert!(
                rmp_serde::from_slice::<T>(&bytes[..end]).is_err(),
                "prefix of {} bytes of {} decoded",
                end,
                bytes.len()
            );
        }
        let mut mutated = bytes.clone();
        for &(at, byte) in flips {
            let len = mutated.len();
            mutated[at % len] = byte;
        }
        check_decoder_total::<T>(&mutated)?;
    }
    Ok(())
}

/// Decoding arbitrary bytes returns (never panics); what decodes is a valid state, so it
/// re-encodes and decodes to itself and merges lawfully.
fn check_decoder_total<T: LawSubject>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = rmp_serde::from_slice::<T>(bytes) {
        let again = rmp_serde::to_vec(&value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let decoded: T =
            rmp_serde::from_slice(&again).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded, &value);
        prop_assert_eq!(&merged(&value, &value), &value);
    }
    Ok(())
}

/// Headers that claim huge collections with nothing behind them: must fail fast, not allocate.
fn check_huge_headers<T: LawSubject>() {
    let claims: [&[u8]; 6] = [
        &[0xdd, 0xff, 0xff, 0xff, 0xff],
        &[0xdf, 0xff, 0xff, 0xff, 0xff],
        &[0x92, 0xdf, 0xff, 0xff, 0xff, 0xff],
        &[0x92, 0x80, 0x92, 0x80, 0xdd, 0xff, 0xff, 0xff, 0xff],
        &[0x92, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x80],
        &[0xc6, 0xff, 0xff, 0xff, 0xff],
    ];
    for bytes in claims {
        assert!(rmp_serde::from_slice::<T>(bytes).is_err(), "{bytes:02x?}");
    }
}

macro_rules! law_suite {
    ($module:ident, $ty:ty) => {
        mod $module {
            use super::*;

            proptest! {
                #![proptest_config(ProptestConfig::with_cases(96))]

                #[test]
                fn merge_is_a_join(s in schedule::<$ty>()) {
                    check_join_laws::<$ty>(&s)?;
                }

                #[test]
                fn deltas_equal_full_states(s in schedule::<$ty>()) {
                    check_deltas_equal_states::<$ty>(&s)?;
                }

                #[test]
                fn replicas_converge_under_duplicated_reordered_delivery(s in schedule::<$ty>()) {
                    check_convergence::<$ty>(&s)?;
                }

                #[test]
                fn encoding_round_trips_and_rejects_truncation(
                    s in schedule::<$ty>(),
                    flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4),
                ) {
                    check_encoding::<$ty>(&s, &flips)?;
                }

                #[test]
                fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
                    check_decoder_total::<$ty>(&bytes)?;
                }
            }

            #[test]
            fn huge_length_headers_are_rejected() {
                check_huge_headers::<$ty>();
            }
        }
    };
}

law_suite!(g_counter, GCounter);
law_suite!(pn_counter, PNCounter);
law_suite!(lww_register, LwwRegister<u8>);
law_suite!(mv_register, MvRegister<u8>);
law_suite!(or_set, OrSet<u8>);
law_suite!(or_map_of_sets, OrMap<u8, OrSet<u8>>);
law_suite!(or_map_of_registers, OrMap<u8, MvRegister<u8>>);
law_suite!(or_map_of_maps, NestedMap);
