//! The decoder of the changes format (the layout and the decoder's invariant are in the parent
//! module's docs): every claimed count checked against the bytes left, everything charged to the
//! message's budget before it is built.
use super::*;

/// Splits `s` after its first `n` characters, or `None` when it has fewer.
fn split_chars(s: &str, n: usize) -> Option<(&str, &str)> {
    if n == 0 {
        return Some(("", s));
    }
    s.char_indices()
        .nth(n - 1)
        .map(|(b, c)| s.split_at(b + c.len_utf8()))
}

/// Heap bytes a copy of container id `id` owns (a root's name).
fn container_heap(id: &ContainerId) -> usize {
    match id {
        ContainerId::Root { name, .. } => name.len(),
        ContainerId::Created { .. } => 0,
    }
}

/// Decodes a raw columnar body made by [`encode_raw`], charging what it decodes to `budget`.
/// Structure only: the caller validates.
pub(crate) fn decode_raw(
    raw: &[u8],
    budget: &mut DecodeBudget,
) -> Result<Vec<Change>, DecodeError> {
    let mut changes = Vec::new();
    decode_each(raw, budget, &mut |change, following| {
        // Exact (a loaded document holds no growth slack); the changes were charged first.
        changes.reserve_exact(following + 1);
        changes.push(change);
        true
    })?;
    Ok(changes)
}

/// Decodes a raw columnar body made by [`encode_raw`] one change at a time, charging what it
/// decodes to `budget`, and hands each change to `each` with the number of changes that
/// follow it; stops early, with `Ok`, when `each` returns false. Structure only: the caller
/// validates. Only a call that ran to the end has checked that the body ended where its last
/// change did, so a batch is well formed only when such a call succeeds.
///
/// One change at a time, so that `Doc::apply_changes` can check a whole batch and then apply
/// it without holding all of its changes at once. A callback, not an iterator: the decoder's
/// state stays in one function's locals, which in the wasm build is 2 KB smaller.
pub(crate) fn decode_each<'a>(
    raw: &'a [u8],
    budget: &mut DecodeBudget,
    each: &mut dyn FnMut(Change, usize) -> bool,
) -> Result<(), DecodeError> {
    let mut r = ColumnReader::new(raw);
    let replicas = read_replicas(&mut r)?;
    let container_count = r.count("container table", 2, r.remaining())?;
    let mut containers = Vec::new();
    for _ in 0..container_count {
        let tag = r.u8("container tag")?;
        if tag > 7 {
            return Err(DecodeError::Malformed("unknown container tag"));
        }
        let kind = kind_from_code(tag & 3)?;
        budget.charge_values::<ContainerId>(1, 0, "container table")?;
        containers.push(if tag & 4 == 0 {
            let name = std::str::from_utf8(r.bytes("root name")?)
                .map_err(|_| DecodeError::Malformed("root name is not UTF-8"))?;
            budget.charge(name.len(), "container table")?;
            ContainerId::root(name, kind)
        } else {
            let replica = replica_at(&replicas, r.u64("container replica")?)?;
            let counter = r.u64("container counter")?;
            ContainerId::Created {
                id: Dot::new(replica, counter),
                kind,
            }
        });
    }
    let key_count = r.count("key table", 1, r.remaining())?;
    let mut keys = Vec::new();
    for _ in 0..key_count {
        let key = std::str::from_utf8(r.bytes("key")?)
            .map_err(|_| DecodeError::Malformed("map key is not UTF-8"))?;
        budget.charge_values::<&str>(1, 0, "key table")?;
        keys.push(key);
    }
    let change_count = r.count("change count", 1, r.remaining())?;
    let op_count = r.count("op count", 1, r.remaining())?;
    if change_count > op_count {
        return Err(DecodeError::Malformed("more changes than ops"));
    }
    // Columns with one value per change or per op hold no run longer than that.
    let per_change = |r: &mut ColumnReader<'a>, what| -> Result<RleReader<'a>, DecodeError> {
        Ok(RleReader::new(r.bytes(what)?, what).expecting(change_count))
    };
    let mut change_replica = per_change(&mut r, "change replicas")?;
    let mut change_start = per_change(&mut r, "change starts")?;
    let mut change_lamport = per_change(&mut r, "change lamports")?;
    let mut change_ops = per_change(&mut r, "change op counts")?;
    let mut parent_count = per_change(&mut r, "parent counts")?;
    let mut parent_replica = RleReader::new(r.bytes("parent replicas")?, "parent replicas");
    let mut parent_counter = ColumnReader::new(r.bytes("parent counters")?);
    let per_op = |r: &mut ColumnReader<'a>, what| -> Result<RleReader<'a>, DecodeError> {
        Ok(RleReader::new(r.bytes(what)?, what).expecting(op_count))
    };
    let mut op_head = per_op(&mut r, "op heads")?;
    let mut op_obj = per_op(&mut r, "op containers")?;
    let mut op_key = per_op(&mut r, "op keys")?;
    let mut pred_count = per_op(&mut r, "pred counts")?;
    let mut ref_agents = RleReader::new(r.bytes("reference agents")?, "reference agents");
    let mut ref_counters = ColumnReader::new(r.bytes("reference counters")?);
    let mut left_counters = RleReader::new(r.bytes("left origins")?, "left origins");
    let mut right_counters = RleReader::new(r.bytes("right origins")?, "right origins");
    let mut target_counters = ColumnReader::new(r.bytes("delete targets")?);
    let mut last_target: u64 = 0;
    // The replica of the next reference, or `None` for an absent one.
    let ref_agent = |agents: &mut RleReader<'_>| -> Result<Option<ReplicaId>, DecodeError> {
        match agents.next_value()? {
            0 => Ok(None),
            a => Ok(Some(replica_at(&replicas, a - 1)?)),
        }
    };
    let mut counter_deltas = ColumnReader::new(r.bytes("counter deltas")?);
    let text = std::str::from_utf8(r.bytes("text")?)
        .map_err(|_| DecodeError::Malformed("text is not UTF-8"))?;
    let map_values: Vec<NewValue> =
        value_pack::read_array(r.bytes("map values")?, "map values", budget, |p| {
            p.new_value()
        })?;
    let list_values: Vec<Value> =
        value_pack::read_array(r.bytes("list values")?, "list values", budget, |p| {
            p.value()
        })?;
    let mut meta = MetaReader::new(&mut r, change_count)?;
    r.finish("change batch")?;

    let mut text_rest = text;
    let mut map_values = map_values.into_iter();
    let mut list_values = list_values.into_iter();
    // Per replica index: end of its previous change.
    let mut replica_state: Vec<u64> = vec![1; replicas.len()];
    let mut next_lamport: u64 = 0;
    let mut ops_left = op_count;
    let mut last_insert: Option<(usize, Dot, Option<Dot>)> = None;
    // Changes and ops are charged before their vectors are reserved, so the vectors are exact
    // (a loaded document holds no growth slack) and a claimed count never allocates past the
    // budget.
    budget.charge_values::<Change>(change_count, 0, "changes")?;
    for following in (0..change_count).rev() {
        let ri = index_in(change_replica.next_value()?, replicas.len())?;
        let replica = replicas[ri];
        let expected_start = replica_state[ri];
        let start = add_delta(expected_start, unzigzag(change_start.next_value()?));
        let lamport = add_delta(next_lamport, unzigzag(change_lamport.next_value()?));
        let n_ops = usize::try_from(change_ops.next_value()?)
            .ok()
            .filter(|&n| n >= 1 && n <= ops_left)
            .ok_or(DecodeError::Malformed("bad op count of a change"))?;
        ops_left -= n_ops;
        let parents = match parent_count.next_value()? {
            0 => default_parent(replica, start).into_iter().collect(),
            // Every stored parent consumes a byte of `parent_counter`, so this loop is bounded
            // by the input, and so is the vector (it grows as parents are read).
            stored => {
                let mut parents = Vec::new();
                for _ in 1..stored {
                    let ri = index_in(parent_replica.next_value()?, replicas.len())?;
                    let counter = parent_counter.u64("parent counters")?;
                    parents.push(Dot::new(replicas[ri], counter));
                }
                parents
            }
        };
        budget.charge(parents.len() * std::mem::size_of::<Dot>(), "changes")?;
        budget.charge_values::<Op>(n_ops, 0, "ops")?;
        let mut ops = Vec::with_capacity(n_ops);
        let mut next = start;
        for _ in 0..n_ops {
            let dot = Dot::new(replica, next);
            let head = op_head.next_value()?;
            let obj_index = index_in(op_obj.next_value()?, containers.len())?;
            // Every op costs its size (charged above) and a copy of its container's id, whatever
            // it took of the input: a run-length column repeats ops for free.
            budget.charge(container_heap(&containers[obj_index]), "ops")?;
            let obj = containers[obj_index].clone();
            let kind = head & 7;
            let continues = head & CONTINUES != 0;
            let len = head >> 4;
            let previous_insert = last_insert.take();
            if continues && !matches!(kind, TEXT_INSERT | LIST_INSERT) {
                return Err(DecodeError::Malformed("continuation flag on a non-insert"));
            }
            let op = match kind {
                MAP_SET | MAP_DELETE => {
                    let key = keys[index_in(op_key.next_value()?, keys.len())?];
                    budget.charge(key.len(), "map keys")?;
                    let key = key.to_owned();
                    let mut pred = Vec::new();
                    // Every id consumes a byte of the reference counters: bounded by the input.
                    for _ in 0..pred_count.next_value()? {
                        budget.charge_values::<Dot>(1, 0, "pred ids")?;
                        let replica = ref_agent(&mut ref_agents)?
                            .ok_or(DecodeError::Malformed("empty pred id"))?;
                        let d = ref_counters.i64("reference counters")?;
                        pred.push(Dot::new(replica, add_delta(dot.counter, d)));
                    }
                    if kind == MAP_SET {
                        let value = map_values
                            .next()
                            .ok_or(DecodeError::Malformed("missing map value"))?;
                        Op::MapSet {
                            obj,
                            key,
                            value,
                            pred,
                        }
                    } else {
                        Op::MapDelete { obj, key, pred }
                    }
                }
                COUNTER_ADD => Op::CounterAdd {
                    obj,
                    delta: counter_deltas.i64("counter deltas")?,
                },
                TEXT_INSERT | LIST_INSERT => {
                    let (origin_left, origin_right) = if continues {
                        match previous_insert {
                            Some((o, last, right)) if o == obj_index => (Some(last), right),
                            _ => {
                                return Err(DecodeError::Malformed(
                                    "continuation without a previous insert",
                                ))
                            }
                        }
                    } else {
                        let left = match ref_agent(&mut ref_agents)? {
                            None => None,
                            Some(r) => {
                                let d = unzigzag(left_counters.next_value()?);
                                Some(Dot::new(r, add_delta(dot.counter, d)))
                            }
                        };
                        let right = match ref_agent(&mut ref_agents)? {
                            None => None,
                            Some(r) => {
                                let base = left.map_or(dot.counter, |l: Dot| l.counter);
                                let d = unzigzag(right_counters.next_value()?);
                                Some(Dot::new(r, add_delta(base, d)))
                            }
                        };
                        (left, right)
                    };
                    let n = usize::try_from(len)
                        .map_err(|_| DecodeError::Malformed("insert too long"))?;
                    let last = Dot::new(replica, next.wrapping_add(len).wrapping_sub(1));
                    last_insert = Some((obj_index, last, origin_right));
                    if kind == TEXT_INSERT {
                        let (content, rest) = split_chars(text_rest, n)
                            .ok_or(DecodeError::Malformed("text column too short"))?;
                        budget.charge(content.len(), "inserted text")?;
                        text_rest = rest;
                        Op::Text {
                            obj,
                            op: SeqOp::Insert {
                                id: dot,
                                origin_left,
                                origin_right,
                                content: TextContent::from(content),
                            },
                        }
                    } else {
                        // Charged again: moving the values into their own vector allocates.
                        budget.charge_values::<Value>(
                            n.min(list_values.len()),
                            0,
                            "list values",
                        )?;
                        let content: Vec<Value> = list_values.by_ref().take(n).collect();
                        if content.len() != n {
                            return Err(DecodeError::Malformed("list value column too short"));
                        }
                        Op::List {
                            obj,
                            op: SeqOp::Insert {
                                id: dot,
                                origin_left,
                                origin_right,
                                content: ListContent(content),
                            },
                        }
                    }
                }
                TEXT_DELETE | LIST_DELETE => {
                    let replica = ref_agent(&mut ref_agents)?
                        .ok_or(DecodeError::Malformed("delete without target"))?;
                    let d = target_counters.i64("delete targets")?;
                    let target = Dot::new(replica, add_delta(last_target, d));
                    last_target = target.counter;
                    if kind == TEXT_DELETE {
                        Op::Text {
                            obj,
                            op: SeqOp::Delete { target, len },
                        }
                    } else {
                        Op::List {
                            obj,
                            op: SeqOp::Delete { target, len },
                        }
                    }
                }
                EXTENDED => match len & 15 {
                    TEXT_MARK => {
                        let mut next_ref = || -> Result<Dot, DecodeError> {
                            let replica = ref_agent(&mut ref_agents)?
                                .ok_or(DecodeError::Malformed("empty mark anchor"))?;
                            let d = ref_counters.i64("reference counters")?;
                            Ok(Dot::new(replica, add_delta(dot.counter, d)))
                        };
                        let flags = len >> 4;
                        if flags >= MARK_FLAGS_END {
                            return Err(DecodeError::Malformed("unknown mark flags"));
                        }
                        let start = anchor_from(flags & 3, &mut next_ref)?;
                        let end = anchor_from((flags >> 2) & 3, &mut next_ref)?;
                        let key = keys[index_in(op_key.next_value()?, keys.len())?];
                        budget.charge(key.len(), "mark keys")?;
                        let value = if flags & MARK_HAS_VALUE != 0 {
                            match map_values.next() {
                                Some(NewValue::Scalar(s)) => Some(s),
                                Some(NewValue::Container(_)) => {
                                    return Err(DecodeError::Malformed("container as a mark value"))
                                }
                                None => return Err(DecodeError::Malformed("missing mark value")),
                            }
                        } else {
                            None
                        };
                        Op::TextMark {
                            obj,
                            start,
                            end,
                            key: key.to_owned(),
                            value,
                        }
                    }
                    other => return Err(DecodeError::UnknownOpKind(EXTENDED + other)),
                },
                _ => return Err(DecodeError::Malformed("unknown op kind")),
            };
            next = next
                .checked_add(op.width())
                .ok_or(DecodeError::Malformed("change counters overflow"))?;
            ops.push(op);
        }
        let change = Change {
            id: SeqRange {
                replica,
                start,
                end: next,
            },
            parents,
            lamport,
            ops,
            meta: meta.next(budget)?,
        };
        next_lamport = lamport.wrapping_add(change.id.len());
        replica_state[ri] = change.id.end;
        if !each(change, following) {
            return Ok(());
        }
    }
    if ops_left != 0 {
        return Err(DecodeError::Malformed(
            "ops left over after the last change",
        ));
    }
    change_replica.finish()?;
    change_start.finish()?;
    change_lamport.finish()?;
    change_ops.finish()?;
    parent_count.finish()?;
    parent_replica.finish()?;
    parent_counter.finish("parent counters")?;
    op_head.finish()?;
    op_obj.finish()?;
    op_key.finish()?;
    pred_count.finish()?;
    ref_agents.finish()?;
    ref_counters.finish("reference counters")?;
    left_counters.finish()?;
    right_counters.finish()?;
    target_counters.finish("delete targets")?;
    counter_deltas.finish("counter deltas")?;
    meta.finish()?;
    if !text_rest.is_empty() || map_values.next().is_some() || list_values.next().is_some() {
        return Err(DecodeError::Malformed(
            "content left over after the last op",
        ));
    }
    Ok(())
}

/// The anchor with code `code` (see the module docs), reading its character with `next_ref`.
fn anchor_from(
    code: u64,
    next_ref: &mut impl FnMut() -> Result<Dot, DecodeError>,
) -> Result<Anchor, DecodeError> {
    Ok(match code {
        0 => Anchor::Start,
        1 => Anchor::Before(next_ref()?),
        2 => Anchor::After(next_ref()?),
        _ => Anchor::End,
    })
}

fn index_in(i: u64, len: usize) -> Result<usize, DecodeError> {
    usize::try_from(i)
        .ok()
        .filter(|&i| i < len)
        .ok_or(DecodeError::Malformed("table index out of range"))
}

fn replica_at(replicas: &[ReplicaId], i: u64) -> Result<ReplicaId, DecodeError> {
    Ok(replicas[index_in(i, replicas.len())?])
}
