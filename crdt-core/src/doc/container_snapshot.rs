//! A container's state as a saved document holds it ([`ContainerSnapshot`]), and back.
//!
//! A text's live characters are all in the history too: every one was inserted by a change of
//! the log. So a saved text does not hold them again. Its state is the engine's runs (ids,
//! origins, deleted flags) with an empty content column, and loading takes each live run's
//! characters from the insert that made them ([`OpLog::text_of`]). That saves the live text's
//! bytes (on automerge-paper, 29 KB of a 182 KB document). A text whose characters the log
//! cannot give back exactly (which an intact document never has) is saved with its content, as
//! before.
//!
//! Nor does a saved text write its runs' origins where the history gives them: a run's first
//! character was inserted with the origins its insert names (the insert's own for its first
//! character, else the character before it and the insert's right origin), which is what the
//! engine's runs hold. Only an origin that differs is written (see `seq::KnownOrigins`). On
//! automerge-paper the origins were 16.5 KB of a 153 KB save. Saves before this change wrote
//! every origin (`TextFromHistory`); they still load.

use std::cell::Cell;

use super::format::snapshot::ContainerSnapshot;
use super::format::value_pack::{self, ReadDocValue};
use super::oplog::{InsertAt, OpAt, OpLog, TextSlicer};
use super::state::{self, ContainerState};
use super::value::{ContainerId, ContainerKind};
use super::DocError;
use crate::encoding::budget::DecodeBudget;
use crate::seq::{
    Content, KnownOrigins, ListContent, Origins, SeqError, Sequence, StateRun, TextContent,
};

impl ContainerSnapshot {
    /// The saved form of container `id`'s `state`, in a document whose history is `log`.
    pub(crate) fn of(id: &ContainerId, state: &ContainerState, log: &OpLog) -> Self {
        match state {
            ContainerState::Map(m) => ContainerSnapshot::Map(
                m.entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            ContainerState::List(seq) => ContainerSnapshot::List(
                seq.encode_state_with(&|c| value_pack::array(&c.0, value_pack::put_value)),
            ),
            ContainerState::Text(seq) if history_holds_text(id, seq, log) => {
                let mut known =
                    |dots: &[_], by_id: &[_]| origins_of(log.locate_inserts(id, dots, by_id));
                ContainerSnapshot::TextRunsFromHistory(
                    seq.encode_state_known(&|_| Vec::new(), Some(&mut known)),
                )
            }
            ContainerState::Text(seq) => {
                ContainerSnapshot::Text(seq.encode_state_with(&value_pack::text_content))
            }
            ContainerState::Counter(n) => ContainerSnapshot::Counter(*n),
        }
    }

    /// The kind of container this state is of.
    pub(crate) fn kind(&self) -> ContainerKind {
        match self {
            ContainerSnapshot::Map(_) => ContainerKind::Map,
            ContainerSnapshot::List(_) => ContainerKind::List,
            ContainerSnapshot::Text(_)
            | ContainerSnapshot::TextFromHistory(_)
            | ContainerSnapshot::TextRunsFromHistory(_) => ContainerKind::Text,
            ContainerSnapshot::Counter(_) => ContainerKind::Counter,
        }
    }

    /// The state of container `id` this snapshot holds, in a document whose history is `log`,
    /// charging what it decodes to `budget`.
    pub(crate) fn into_state(
        self,
        id: &ContainerId,
        log: &OpLog,
        budget: &mut DecodeBudget,
    ) -> Result<ContainerState, DocError> {
        Ok(match self {
            ContainerSnapshot::Map(entries) => {
                let mut map = state::MapState::default();
                for (key, values) in entries {
                    if values.is_empty() {
                        continue;
                    }
                    let values = crate::sort_keys::sorted_by_key(values, |e| {
                        (e.lamport, e.id.replica.0, e.id.counter)
                    });
                    map.entries.insert(key, values);
                }
                ContainerState::Map(map)
            }
            ContainerSnapshot::List(bytes) => ContainerState::List(Sequence::decode_state_with(
                &bytes,
                budget,
                &mut |b, _, budget| {
                    let values = value_pack::read_array(b, "list content", budget, |r| r.value())?;
                    Ok(ListContent(values))
                },
            )?),
            ContainerSnapshot::Text(bytes) => ContainerState::Text(Sequence::decode_state_with(
                &bytes,
                budget,
                &mut |b, _, budget| {
                    budget.charge(b.len(), "text content")?;
                    Ok(value_pack::read_text_content(b)?)
                },
            )?),
            ContainerSnapshot::TextFromHistory(bytes) => {
                ContainerState::Text(text_state_from_history(id, &bytes, log, false, budget)?)
            }
            ContainerSnapshot::TextRunsFromHistory(bytes) => {
                ContainerState::Text(text_state_from_history(id, &bytes, log, true, budget)?)
            }
            ContainerSnapshot::Counter(n) => ContainerState::Counter(n),
        })
    }
}

/// The state of text `id` saved as `bytes` without its characters, which `log` holds, and
/// without the origins `log` gives when `known_origins`.
fn text_state_from_history(
    id: &ContainerId,
    bytes: &[u8],
    log: &OpLog,
    known_origins: bool,
    budget: &mut DecodeBudget,
) -> Result<Sequence<TextContent>, SeqError> {
    // Where each run's first character is in the log, found with its origins and used again
    // to take the characters (no second search).
    let located: Cell<Vec<Option<OpAt>>> = Cell::new(Vec::new());
    let mut known = |dots: &[_], by_id: &[_]| {
        let found = log.locate_inserts(id, dots, by_id);
        located.set(found.iter().map(|f| f.map(|f| f.at)).collect());
        origins_of(found)
    };
    let known: Option<KnownOrigins> = if known_origins {
        Some(&mut known)
    } else {
        None
    };
    Sequence::decode_state_known(bytes, budget, known, &mut |b, runs, budget| {
        if !b.is_empty() {
            return Err(SeqError::Malformed("content beside a text from history"));
        }
        text_from_history(id, runs, log, &located.take(), budget)
    })
}

/// The origins of each located insert.
fn origins_of(found: Vec<Option<InsertAt>>) -> Vec<Option<Origins>> {
    found.into_iter().map(|f| f.map(|f| f.origins)).collect()
}

/// Whether `log` gives back exactly the live characters of text `id`, run by run.
fn history_holds_text(id: &ContainerId, seq: &Sequence<TextContent>, log: &OpLog) -> bool {
    let mut slicer = TextSlicer::default();
    let mut text = String::with_capacity(seq.len());
    seq.live_id_runs()
        .all(|(dot, len)| log.text_of(id, dot, u64::from(len), None, &mut slicer, &mut text))
        && text == seq.to_content().as_str()
}

/// The live characters of text `id`, whose runs in document order are `runs`, taken from the
/// inserts of `log` that made them; `located` says where in the log some runs start.
fn text_from_history(
    id: &ContainerId,
    runs: &[StateRun],
    log: &OpLog,
    located: &[Option<OpAt>],
    budget: &mut DecodeBudget,
) -> Result<TextContent, SeqError> {
    let mut slicer = TextSlicer::default();
    // At least a byte per live character (the run lengths were checked against the bytes).
    let live: usize = runs
        .iter()
        .filter(|r| !r.deleted)
        .map(|r| r.len as usize)
        .sum();
    budget.charge(live, "text content")?;
    let mut text = String::with_capacity(live);
    for (i, run) in runs.iter().enumerate().filter(|(_, r)| !r.deleted) {
        let at = located.get(i).copied().flatten();
        if !log.text_of(id, run.id, u64::from(run.len), at, &mut slicer, &mut text) {
            return Err(SeqError::Malformed("a live run the history did not insert"));
        }
    }
    // The characters are the history's, charged there already; the copy is charged here.
    budget.charge(text.len(), "text content")?;
    let content = TextContent::from(text);
    debug_assert_eq!(
        content.len(),
        runs.iter()
            .filter(|r| !r.deleted)
            .map(|r| r.len as usize)
            .sum::<usize>()
    );
    Ok(content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Dot, ReplicaId};
    use crate::doc::format::snapshot::{self, SnapshotRef};
    use crate::encoding::{frame, EncodingKind};
    use crate::seq::snapshot_test_support::write_state_without_content;
    use crate::{Doc, DocError, VersionVector};

    /// Two replicas type, backspace and cut non-ASCII text in a root text and in a text nested
    /// in a map, concurrently.
    fn edited() -> Doc {
        let mut a = Doc::with_replica(ReplicaId::new(1));
        let mut b = Doc::with_replica(ReplicaId::new(2));
        for (i, ch) in "héllo wörld 😀 typed".chars().enumerate() {
            a.text("t").insert(i, &ch.to_string()).unwrap();
            a.commit();
        }
        let nested = a
            .map("m")
            .set_container("note", ContainerKind::Text)
            .unwrap();
        a.text_at(&nested).unwrap().insert(0, "ünïcode").unwrap();
        a.commit();
        b.apply_changes(&a.encode_changes_since(&b.version()))
            .unwrap();
        b.text("t").insert(3, "ß😀").unwrap();
        b.text("t").delete(8, 4).unwrap();
        b.text_at(&nested).unwrap().delete(1, 2).unwrap();
        b.commit();
        for at in (12..16).rev() {
            a.text("t").delete(at, 1).unwrap();
            a.commit();
        }
        a.apply_changes(&b.encode_changes_since(&a.version()))
            .unwrap();
        a
    }

    /// The bytes `doc` saves with `text` as the state of its root text `t`.
    fn saved_with_text_state(doc: &Doc, text: ContainerSnapshot) -> Vec<u8> {
        let t = ContainerId::root("t", ContainerKind::Text);
        let mut text = Some(text);
        let mut containers = Vec::new();
        for (id, c) in &doc.state.containers {
            let state = match text.take() {
                Some(state) if *id == t => state,
                other => {
                    text = other;
                    ContainerSnapshot::of(id, c, &doc.log)
                }
            };
            containers.push((id, state));
        }
        let parents = doc.state.parents.iter().map(|(id, l)| (id, &**l)).collect();
        frame(
            EncodingKind::Snapshot,
            &snapshot::encode_raw(&SnapshotRef {
                version: doc.log.version(),
                history: doc.log.encode(),
                pending: Vec::new(),
                containers,
                parents,
            }),
        )
    }

    #[test]
    fn a_saved_text_holds_its_characters_once_and_loads_from_the_history() {
        let mut doc = edited();
        for (id, c) in &doc.state.containers {
            if let ContainerState::Text(_) = &**c {
                assert!(
                    matches!(
                        ContainerSnapshot::of(id, c, &doc.log),
                        ContainerSnapshot::TextRunsFromHistory(_)
                    ),
                    "{id:?} saved without its characters"
                );
            }
        }
        let saved = doc.save();
        let loaded = Doc::load(&saved).expect("loads");
        assert_eq!(loaded.materialize(), doc.materialize());
        // The same document with its text's characters inline is larger by about them.
        let ContainerState::Text(seq) = &**doc
            .state
            .containers
            .get(&ContainerId::root("t", ContainerKind::Text))
            .unwrap()
        else {
            panic!("a text");
        };
        let inline = ContainerSnapshot::Text(seq.encode_state_with(&value_pack::text_content));
        let with_inline = saved_with_text_state(&doc, inline);
        assert_eq!(
            Doc::load(&with_inline).unwrap().materialize(),
            doc.materialize(),
            "a text saved with its characters (as before) still loads"
        );
        assert!(saved.len() < with_inline.len());
    }

    /// The state of root text `t` of `doc`.
    fn root_text(doc: &Doc) -> &Sequence<TextContent> {
        match &**doc
            .state
            .containers
            .get(&ContainerId::root("t", ContainerKind::Text))
            .unwrap()
        {
            ContainerState::Text(seq) => seq,
            _ => panic!("a text"),
        }
    }

    /// A saved text writes none of its runs' origins (the history's inserts give them all), a
    /// save that wrote them all (as saves did before) still loads, and the loaded document
    /// merges a concurrent edit as the document it was saved from does (wrong origins would
    /// place it elsewhere). Fails when the origins are written or taken wrongly from the
    /// history.
    #[test]
    fn a_saved_text_takes_its_runs_origins_from_the_history() {
        let mut doc = edited();
        // A run that starts inside an insert with a right origin: typed between two
        // characters, then cut in two.
        doc.text("t").insert(3, "inserted").unwrap();
        doc.commit();
        doc.text("t").delete(6, 2).unwrap();
        doc.commit();
        let saved = doc.save();
        let id = ContainerId::root("t", ContainerKind::Text);
        let seq = root_text(&doc);
        let all_origins =
            ContainerSnapshot::TextFromHistory(seq.encode_state_with(&|_| Vec::new()));
        let ContainerSnapshot::TextFromHistory(all_bytes) = &all_origins else {
            unreachable!()
        };
        // No origin is written: every one is the history's.
        let (runs, _) = seq.state_runs();
        assert!(runs.len() >= 5, "{} runs", runs.len());
        let firsts: Vec<Dot> = runs.iter().map(|r| r.id).collect();
        let by_id = crate::seq::id_order(&firsts);
        for (run, known) in runs
            .iter()
            .zip(doc.log.locate_inserts(&id, &firsts, &by_id))
        {
            let known = known.map(|k| k.origins);
            assert_eq!(known, Some((run.origin_left, run.origin_right)), "{run:?}");
        }
        let mut unknown = |dots: &[Dot], _: &[usize]| vec![None; dots.len()];
        let without_history = seq.encode_state_known(&|_| Vec::new(), Some(&mut unknown));
        let mut known =
            |dots: &[Dot], by_id: &[usize]| origins_of(doc.log.locate_inserts(&id, dots, by_id));
        let from_history = seq.encode_state_known(&|_| Vec::new(), Some(&mut known));
        assert!(
            from_history.len() < all_bytes.len() && from_history.len() < without_history.len(),
            "{} bytes with the history's origins, {} with every origin written",
            from_history.len(),
            all_bytes.len()
        );
        let older = saved_with_text_state(&doc, all_origins);
        assert!(saved.len() < older.len());

        // Both load, and the loaded documents merge a concurrent edit as `doc` does.
        let mut other = Doc::load(&saved).unwrap();
        other.set_replica(ReplicaId::new(3));
        other.text("t").insert(5, "[three]").unwrap();
        other.text("t").delete(1, 2).unwrap();
        doc.text("t").insert(6, "<one>").unwrap();
        doc.commit();
        let concurrent = other.encode_changes_since(&VersionVector::new());
        let mine = doc.encode_changes_since(&VersionVector::new());
        doc.apply_changes(&concurrent).unwrap();
        for bytes in [&saved, &older] {
            let mut loaded = Doc::load(bytes).expect("loads");
            loaded.apply_changes(&mine).unwrap();
            loaded.apply_changes(&concurrent).unwrap();
            assert_eq!(loaded.materialize(), doc.materialize());
        }
    }

    /// Replica 1 typed "ab" into root text `t` (R1@1, R1@2), made text `n` in map `m` (R1@3) and
    /// typed "cd" into it (R1@4, R1@5), in one commit.
    fn root_and_nested_texts() -> Doc {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        doc.text("t").insert(0, "ab").unwrap();
        let nested = doc
            .map("m")
            .set_container("n", ContainerKind::Text)
            .unwrap();
        doc.text_at(&nested).unwrap().insert(0, "cd").unwrap();
        doc.commit();
        doc
    }

    /// A state claiming that the history gives the origins of a run it did not insert into the
    /// text (a forger's) is refused.
    #[test]
    fn a_known_origin_of_a_run_the_history_did_not_insert_is_refused() {
        let doc = root_and_nested_texts();
        let forged = |ids: [u64; 2]| {
            let runs: Vec<StateRun> = ids
                .iter()
                .map(|&c| StateRun {
                    deleted: true,
                    ..live_run(Dot::new(ReplicaId::new(1), c), 1)
                })
                .collect();
            // The forger claims every origin is the history's (no origin at all).
            let mut claim = |dots: &[Dot], _: &[usize]| vec![Some((None, None)); dots.len()];
            ContainerSnapshot::TextRunsFromHistory(
                crate::seq::snapshot_test_support::write_state_with_known_origins(
                    &runs, &mut claim,
                ),
            )
        };
        // Characters 1 and 2 are the root text's: their origins are known, and load.
        let mut honest = Doc::load(&saved_with_text_state(&doc, forged([1, 2]))).expect("loads");
        assert_eq!(honest.text("t").to_string(), "");
        // 3 made the map's text, 4 and 5 are the nested text's, 9 was never made.
        for ids in [[3, 4], [4, 5], [1, 9]] {
            assert!(refused(Doc::load(&saved_with_text_state(
                &doc,
                forged(ids)
            ))));
        }
    }

    /// A live run of `len` elements from `id`, without origins.
    fn live_run(id: Dot, len: u32) -> StateRun {
        StateRun {
            id,
            len,
            deleted: false,
            origin_left: None,
            origin_right: None,
        }
    }

    /// A text's state as runs of single elements, as a forger writes it.
    fn forged_state(ids: impl IntoIterator<Item = Dot>) -> ContainerSnapshot {
        let runs: Vec<StateRun> = ids.into_iter().map(|id| live_run(id, 1)).collect();
        ContainerSnapshot::TextFromHistory(write_state_without_content(&runs))
    }

    fn refused(result: Result<Doc, DocError>) -> bool {
        matches!(result, Err(DocError::Seq(SeqError::Malformed(_))))
    }

    #[test]
    fn a_live_run_the_history_did_not_insert_into_this_text_is_refused() {
        let doc = root_and_nested_texts();
        // The nested text's characters are R1@4 and R1@5 (R1@3 made the container).
        let honest = saved_with_text_state(
            &doc,
            forged_state([1, 2].map(|c| Dot::new(ReplicaId::new(1), c))),
        );
        assert_eq!(Doc::load(&honest).unwrap().text("t").to_string(), "ab");
        let other_text = forged_state([4, 5].map(|c| Dot::new(ReplicaId::new(1), c)));
        assert!(refused(Doc::load(&saved_with_text_state(&doc, other_text))));
        let map_op = forged_state([Dot::new(ReplicaId::new(1), 3)]);
        assert!(refused(Doc::load(&saved_with_text_state(&doc, map_op))));
        let unknown = forged_state([Dot::new(ReplicaId::new(7), 1)]);
        assert!(refused(Doc::load(&saved_with_text_state(&doc, unknown))));
        let past_the_end = forged_state([Dot::new(ReplicaId::new(1), 9)]);
        assert!(refused(Doc::load(&saved_with_text_state(
            &doc,
            past_the_end
        ))));
    }

    #[test]
    fn a_text_from_history_with_a_content_column_is_refused() {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        doc.text("t").insert(0, "ab").unwrap();
        doc.commit();
        let runs = [live_run(Dot::new(ReplicaId::new(1), 1), 2)];
        let both = ContainerSnapshot::TextFromHistory(
            crate::seq::snapshot_test_support::write_state(&runs, &TextContent::from("ab")),
        );
        assert!(refused(Doc::load(&saved_with_text_state(&doc, both))));
    }

    /// A text from history whose runs claim billions of live characters (a run may be 2^31
    /// long) is refused by the decoding budget before the characters' buffer is reserved.
    #[test]
    fn runs_claiming_billions_of_characters_are_refused_before_allocating() {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        doc.text("t").insert(0, "ab").unwrap();
        doc.commit();
        let runs: Vec<StateRun> = (0..4u64)
            .map(|i| {
                let max = crate::seq::MAX_RUN_FOR_TESTS;
                live_run(Dot::new(ReplicaId::new(1), 1 + i * u64::from(max)), max)
            })
            .collect();
        let claim = ContainerSnapshot::TextFromHistory(write_state_without_content(&runs));
        let bytes = saved_with_text_state(&doc, claim);
        assert!(bytes.len() < 2_000);
        let err = Doc::load(&bytes).expect_err("refused");
        assert!(
            matches!(
                &err,
                DocError::Seq(SeqError::Format(
                    crate::encoding::FormatError::BudgetExceeded {
                        what: "text content",
                        ..
                    }
                ))
            ),
            "{err:?}"
        );
    }

    /// Live runs may name one long non-ASCII insert's characters in any order (a forger picks
    /// the order); each slice starts from a checkpoint, so reversing 20,000 characters reads
    /// each about once (before, every slice walked the insert from its start).
    #[test]
    fn runs_naming_a_long_insert_backwards_load_to_the_reversed_text() {
        let mut doc = Doc::with_replica(ReplicaId::new(1));
        let text: String = "é😀a".chars().cycle().take(20_000).collect();
        doc.text("t").insert(0, &text).unwrap();
        doc.commit();
        let backwards = forged_state((1..=20_000).rev().map(|c| Dot::new(ReplicaId::new(1), c)));
        let loaded = Doc::load(&saved_with_text_state(&doc, backwards)).expect("loads");
        let mut loaded = loaded;
        let reversed: String = text.chars().rev().collect();
        assert_eq!(loaded.text("t").to_string(), reversed);
    }
}
