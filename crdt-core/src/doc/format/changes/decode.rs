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
    let mut reader = ChangeReader::new(raw, budget)?;
    // Changes are charged before their vector is reserved, so the vector is exact (a loaded
    // document holds no growth slack) and a claimed count never allocates past the budget.
    budget.charge_values::<Change>(reader.len(), 0, "changes")?;
    let mut changes = Vec::with_capacity(reader.len());
    while let Some(change) = reader.next_change(budget)? {
        changes.push(change);
    }
    reader.finish()?;
    Ok(changes)
}

/// The columns of a batch, each read as its values are needed.
struct Columns<'a> {
    change_replica: RleReader<'a>,
    change_start: RleReader<'a>,
    change_lamport: RleReader<'a>,
    change_ops: RleReader<'a>,
    parent_count: RleReader<'a>,
    parent_replica: RleReader<'a>,
    parent_counter: ColumnReader<'a>,
    op_head: RleReader<'a>,
    op_obj: RleReader<'a>,
    op_key: RleReader<'a>,
    pred_count: RleReader<'a>,
    ref_agents: RleReader<'a>,
    ref_counters: ColumnReader<'a>,
    left_counters: RleReader<'a>,
    right_counters: RleReader<'a>,
    target_counters: ColumnReader<'a>,
    counter_deltas: ColumnReader<'a>,
}

impl<'a> Columns<'a> {
    /// Takes the columns from `r`, in the order the module docs list them (up to `text`).
    fn read(r: &mut ColumnReader<'a>, changes: usize, ops: usize) -> Result<Self, DecodeError> {
        // Columns with one value per change or per op hold no run longer than that.
        let mut expecting = |what, n| -> Result<RleReader<'a>, DecodeError> {
            Ok(RleReader::new(r.bytes(what)?, what).expecting(n))
        };
        let change_replica = expecting("change replicas", changes)?;
        let change_start = expecting("change starts", changes)?;
        let change_lamport = expecting("change lamports", changes)?;
        let change_ops = expecting("change op counts", changes)?;
        let parent_count = expecting("parent counts", changes)?;
        let parent_replica = RleReader::new(r.bytes("parent replicas")?, "parent replicas");
        let parent_counter = ColumnReader::new(r.bytes("parent counters")?);
        let mut expecting = |what, n| -> Result<RleReader<'a>, DecodeError> {
            Ok(RleReader::new(r.bytes(what)?, what).expecting(n))
        };
        Ok(Columns {
            change_replica,
            change_start,
            change_lamport,
            change_ops,
            parent_count,
            parent_replica,
            parent_counter,
            op_head: expecting("op heads", ops)?,
            op_obj: expecting("op containers", ops)?,
            op_key: expecting("op keys", ops)?,
            pred_count: expecting("pred counts", ops)?,
            ref_agents: RleReader::new(r.bytes("reference agents")?, "reference agents"),
            ref_counters: ColumnReader::new(r.bytes("reference counters")?),
            left_counters: RleReader::new(r.bytes("left origins")?, "left origins"),
            right_counters: RleReader::new(r.bytes("right origins")?, "right origins"),
            target_counters: ColumnReader::new(r.bytes("delete targets")?),
            counter_deltas: ColumnReader::new(r.bytes("counter deltas")?),
        })
    }

    /// Checks that every column was consumed exactly.
    fn finish(self) -> Result<(), DecodeError> {
        self.change_replica.finish()?;
        self.change_start.finish()?;
        self.change_lamport.finish()?;
        self.change_ops.finish()?;
        self.parent_count.finish()?;
        self.parent_replica.finish()?;
        self.parent_counter.finish("parent counters")?;
        self.op_head.finish()?;
        self.op_obj.finish()?;
        self.op_key.finish()?;
        self.pred_count.finish()?;
        self.ref_agents.finish()?;
        self.ref_counters.finish("reference counters")?;
        self.left_counters.finish()?;
        self.right_counters.finish()?;
        self.target_counters.finish("delete targets")?;
        self.counter_deltas.finish("counter deltas")?;
        Ok(())
    }
}

/// The replica of the next reference, or `None` for an absent one.
fn ref_agent(
    agents: &mut RleReader<'_>,
    replicas: &[ReplicaId],
) -> Result<Option<ReplicaId>, DecodeError> {
    match agents.next_value()? {
        0 => Ok(None),
        a => Ok(Some(replica_at(replicas, a - 1)?)),
    }
}

/// Reads a raw columnar body made by [`encode_raw`] one change at a time, so that a caller
/// can check a whole batch, or apply it, without holding all of its changes at once.
///
/// Structure only: the caller validates. [`ChangeReader::finish`] checks that the body ended
/// exactly where the last change did; a batch is well formed only when it succeeds.
pub(crate) struct ChangeReader<'a> {
    replicas: Vec<ReplicaId>,
    containers: Vec<ContainerId>,
    keys: Vec<&'a str>,
    columns: Columns<'a>,
    text_rest: &'a str,
    map_values: std::vec::IntoIter<NewValue>,
    list_values: std::vec::IntoIter<Value>,
    meta: MetaReader<'a>,
    change_count: usize,
    changes_left: usize,
    ops_left: usize,
    /// Per replica index: end of its previous change.
    replica_state: Vec<u64>,
    next_lamport: u64,
    /// The last insert read: its container index, last element and right origin.
    last_insert: Option<(usize, Dot, Option<Dot>)>,
    last_target: u64,
}

impl<'a> ChangeReader<'a> {
    /// Reads the tables and finds the columns of `raw`, charging the tables to `budget`.
    pub(crate) fn new(raw: &'a [u8], budget: &mut DecodeBudget) -> Result<Self, DecodeError> {
        let mut r = ColumnReader::new(raw);
        let replicas = read_replicas(&mut r)?;
        let containers = read_containers(&mut r, &replicas, budget)?;
        let keys = read_keys(&mut r, budget)?;
        let change_count = r.count("change count", 1, r.remaining())?;
        let op_count = r.count("op count", 1, r.remaining())?;
        if change_count > op_count {
            return Err(DecodeError::Malformed("more changes than ops"));
        }
        let columns = Columns::read(&mut r, change_count, op_count)?;
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
        let meta = MetaReader::new(&mut r, change_count)?;
        r.finish("change batch")?;
        Ok(ChangeReader {
            replica_state: vec![1; replicas.len()],
            replicas,
            containers,
            keys,
            columns,
            text_rest: text,
            map_values: map_values.into_iter(),
            list_values: list_values.into_iter(),
            meta,
            change_count,
            changes_left: change_count,
            ops_left: op_count,
            next_lamport: 0,
            last_insert: None,
            last_target: 0,
        })
    }

    /// How many changes the batch claims (bounded by its bytes).
    pub(crate) fn len(&self) -> usize {
        self.change_count
    }

    /// The next change, or `None` after the last; what it decodes is charged to `budget`.
    pub(crate) fn next_change(
        &mut self,
        budget: &mut DecodeBudget,
    ) -> Result<Option<Change>, DecodeError> {
        if self.changes_left == 0 {
            return Ok(None);
        }
        self.changes_left -= 1;
        let c = &mut self.columns;
        let ri = index_in(c.change_replica.next_value()?, self.replicas.len())?;
        let replica = self.replicas[ri];
        let start = add_delta(
            self.replica_state[ri],
            unzigzag(c.change_start.next_value()?),
        );
        let lamport = add_delta(self.next_lamport, unzigzag(c.change_lamport.next_value()?));
        let n_ops = usize::try_from(c.change_ops.next_value()?)
            .ok()
            .filter(|&n| n >= 1 && n <= self.ops_left)
            .ok_or(DecodeError::Malformed("bad op count of a change"))?;
        self.ops_left -= n_ops;
        let parents = self.read_parents(replica, start)?;
        budget.charge(parents.len() * std::mem::size_of::<Dot>(), "changes")?;
        budget.charge_values::<Op>(n_ops, 0, "ops")?;
        let mut ops = Vec::with_capacity(n_ops);
        let mut next = start;
        for _ in 0..n_ops {
            let op = self.read_op(Dot::new(replica, next), budget)?;
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
            meta: self.meta.next(budget)?,
        };
        self.next_lamport = lamport.wrapping_add(change.id.len());
        self.replica_state[ri] = change.id.end;
        Ok(Some(change))
    }

    /// Checks that the body ended exactly where the last change did: every column consumed,
    /// no content left over.
    pub(crate) fn finish(mut self) -> Result<(), DecodeError> {
        if self.changes_left != 0 {
            return Err(DecodeError::Malformed("changes left unread"));
        }
        if self.ops_left != 0 {
            return Err(DecodeError::Malformed(
                "ops left over after the last change",
            ));
        }
        self.columns.finish()?;
        self.meta.finish()?;
        if !self.text_rest.is_empty()
            || self.map_values.next().is_some()
            || self.list_values.next().is_some()
        {
            return Err(DecodeError::Malformed(
                "content left over after the last op",
            ));
        }
        Ok(())
    }

    /// A change's parents: the default one (the replica's previous event) unless some are
    /// stored. Every stored parent consumes a byte of `parent_counter`, so the loop is bounded
    /// by the input, and so is the vector (it grows as parents are read).
    fn read_parents(&mut self, replica: ReplicaId, start: u64) -> Result<Vec<Dot>, DecodeError> {
        let c = &mut self.columns;
        let stored = c.parent_count.next_value()?;
        if stored == 0 {
            return Ok(default_parent(replica, start).into_iter().collect());
        }
        let mut parents = Vec::new();
        for _ in 1..stored {
            let ri = index_in(c.parent_replica.next_value()?, self.replicas.len())?;
            let counter = c.parent_counter.u64("parent counters")?;
            parents.push(Dot::new(self.replicas[ri], counter));
        }
        Ok(parents)
    }

    /// The op with first id `dot`.
    fn read_op(&mut self, dot: Dot, budget: &mut DecodeBudget) -> Result<Op, DecodeError> {
        let c = &mut self.columns;
        let head = c.op_head.next_value()?;
        let obj_index = index_in(c.op_obj.next_value()?, self.containers.len())?;
        // Every op costs its size (charged by the change) and a copy of its container's id,
        // whatever it took of the input: a run-length column repeats ops for free.
        budget.charge(container_heap(&self.containers[obj_index]), "ops")?;
        let obj = self.containers[obj_index].clone();
        let kind = head & 7;
        let continues = head & CONTINUES != 0;
        let len = head >> 4;
        let previous_insert = self.last_insert.take();
        if continues && !matches!(kind, TEXT_INSERT | LIST_INSERT) {
            return Err(DecodeError::Malformed("continuation flag on a non-insert"));
        }
        match kind {
            MAP_SET | MAP_DELETE => self.read_map_op(kind, obj, dot, budget),
            COUNTER_ADD => Ok(Op::CounterAdd {
                obj,
                delta: self.columns.counter_deltas.i64("counter deltas")?,
            }),
            TEXT_INSERT | LIST_INSERT => {
                let origins = if continues {
                    match previous_insert {
                        Some((o, last, right)) if o == obj_index => (Some(last), right),
                        _ => {
                            return Err(DecodeError::Malformed(
                                "continuation without a previous insert",
                            ))
                        }
                    }
                } else {
                    self.read_origins(dot)?
                };
                let last = Dot::new(dot.replica, dot.counter.wrapping_add(len).wrapping_sub(1));
                self.last_insert = Some((obj_index, last, origins.1));
                self.read_insert(kind == TEXT_INSERT, obj, dot, origins, len, budget)
            }
            TEXT_DELETE | LIST_DELETE => {
                let replica = ref_agent(&mut self.columns.ref_agents, &self.replicas)?
                    .ok_or(DecodeError::Malformed("delete without target"))?;
                let d = self.columns.target_counters.i64("delete targets")?;
                let target = Dot::new(replica, add_delta(self.last_target, d));
                self.last_target = target.counter;
                Ok(if kind == TEXT_DELETE {
                    Op::Text {
                        obj,
                        op: SeqOp::Delete { target, len },
                    }
                } else {
                    Op::List {
                        obj,
                        op: SeqOp::Delete { target, len },
                    }
                })
            }
            EXTENDED => match len & 15 {
                TEXT_MARK => self.read_mark(obj, dot, len >> 4, budget),
                other => Err(DecodeError::UnknownOpKind(EXTENDED + other)),
            },
            _ => Err(DecodeError::Malformed("unknown op kind")),
        }
    }

    /// A map write or delete of kind `kind` with id `dot`: its key, `pred` ids and value.
    fn read_map_op(
        &mut self,
        kind: u64,
        obj: ContainerId,
        dot: Dot,
        budget: &mut DecodeBudget,
    ) -> Result<Op, DecodeError> {
        let c = &mut self.columns;
        let key = self.keys[index_in(c.op_key.next_value()?, self.keys.len())?];
        budget.charge(key.len(), "map keys")?;
        let key = key.to_owned();
        let mut pred = Vec::new();
        // Every id consumes a byte of the reference counters: bounded by the input.
        for _ in 0..c.pred_count.next_value()? {
            budget.charge_values::<Dot>(1, 0, "pred ids")?;
            let replica = ref_agent(&mut c.ref_agents, &self.replicas)?
                .ok_or(DecodeError::Malformed("empty pred id"))?;
            let d = c.ref_counters.i64("reference counters")?;
            pred.push(Dot::new(replica, add_delta(dot.counter, d)));
        }
        if kind == MAP_DELETE {
            return Ok(Op::MapDelete { obj, key, pred });
        }
        let value = self
            .map_values
            .next()
            .ok_or(DecodeError::Malformed("missing map value"))?;
        Ok(Op::MapSet {
            obj,
            key,
            value,
            pred,
        })
    }

    /// The stored origins of an insert with id `dot` that does not continue the previous one.
    fn read_origins(&mut self, dot: Dot) -> Result<(Option<Dot>, Option<Dot>), DecodeError> {
        let c = &mut self.columns;
        let left = match ref_agent(&mut c.ref_agents, &self.replicas)? {
            None => None,
            Some(r) => {
                let d = unzigzag(c.left_counters.next_value()?);
                Some(Dot::new(r, add_delta(dot.counter, d)))
            }
        };
        let right = match ref_agent(&mut c.ref_agents, &self.replicas)? {
            None => None,
            Some(r) => {
                let base = left.map_or(dot.counter, |l: Dot| l.counter);
                let d = unzigzag(c.right_counters.next_value()?);
                Some(Dot::new(r, add_delta(base, d)))
            }
        };
        Ok((left, right))
    }

    /// An insert of `len` elements (characters when `text`, else list values) with id `dot`:
    /// its content, taken from the text or list value column.
    fn read_insert(
        &mut self,
        text: bool,
        obj: ContainerId,
        id: Dot,
        (origin_left, origin_right): (Option<Dot>, Option<Dot>),
        len: u64,
        budget: &mut DecodeBudget,
    ) -> Result<Op, DecodeError> {
        let n = usize::try_from(len).map_err(|_| DecodeError::Malformed("insert too long"))?;
        if text {
            let (content, rest) = split_chars(self.text_rest, n)
                .ok_or(DecodeError::Malformed("text column too short"))?;
            budget.charge(content.len(), "inserted text")?;
            self.text_rest = rest;
            return Ok(Op::Text {
                obj,
                op: SeqOp::Insert {
                    id,
                    origin_left,
                    origin_right,
                    content: TextContent::from(content),
                },
            });
        }
        // Charged again: moving the values into their own vector allocates.
        budget.charge_values::<Value>(n.min(self.list_values.len()), 0, "list values")?;
        let content: Vec<Value> = self.list_values.by_ref().take(n).collect();
        if content.len() != n {
            return Err(DecodeError::Malformed("list value column too short"));
        }
        Ok(Op::List {
            obj,
            op: SeqOp::Insert {
                id,
                origin_left,
                origin_right,
                content: ListContent(content),
            },
        })
    }

    /// A text mark with id `dot` and mark flags `flags`: its anchors, key and value.
    fn read_mark(
        &mut self,
        obj: ContainerId,
        dot: Dot,
        flags: u64,
        budget: &mut DecodeBudget,
    ) -> Result<Op, DecodeError> {
        if flags >= MARK_FLAGS_END {
            return Err(DecodeError::Malformed("unknown mark flags"));
        }
        let c = &mut self.columns;
        let replicas = &self.replicas;
        let mut next_ref = || -> Result<Dot, DecodeError> {
            let replica = ref_agent(&mut c.ref_agents, replicas)?
                .ok_or(DecodeError::Malformed("empty mark anchor"))?;
            let d = c.ref_counters.i64("reference counters")?;
            Ok(Dot::new(replica, add_delta(dot.counter, d)))
        };
        let start = anchor_from(flags & 3, &mut next_ref)?;
        let end = anchor_from((flags >> 2) & 3, &mut next_ref)?;
        let key = self.keys[index_in(c.op_key.next_value()?, self.keys.len())?];
        budget.charge(key.len(), "mark keys")?;
        let value = if flags & MARK_HAS_VALUE != 0 {
            match self.map_values.next() {
                Some(NewValue::Scalar(s)) => Some(s),
                Some(NewValue::Container(_)) => {
                    return Err(DecodeError::Malformed("container as a mark value"))
                }
                None => return Err(DecodeError::Malformed("missing mark value")),
            }
        } else {
            None
        };
        Ok(Op::TextMark {
            obj,
            start,
            end,
            key: key.to_owned(),
            value,
        })
    }
}

/// The container table: a count, then each id (module docs).
fn read_containers(
    r: &mut ColumnReader<'_>,
    replicas: &[ReplicaId],
    budget: &mut DecodeBudget,
) -> Result<Vec<ContainerId>, DecodeError> {
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
            let replica = replica_at(replicas, r.u64("container replica")?)?;
            let counter = r.u64("container counter")?;
            ContainerId::Created {
                id: Dot::new(replica, counter),
                kind,
            }
        });
    }
    Ok(containers)
}

/// The key table: a count, then each key, borrowed from the body.
fn read_keys<'a>(
    r: &mut ColumnReader<'a>,
    budget: &mut DecodeBudget,
) -> Result<Vec<&'a str>, DecodeError> {
    let key_count = r.count("key table", 1, r.remaining())?;
    let mut keys = Vec::new();
    for _ in 0..key_count {
        let key = std::str::from_utf8(r.bytes("key")?)
            .map_err(|_| DecodeError::Malformed("map key is not UTF-8"))?;
        budget.charge_values::<&str>(1, 0, "key table")?;
        keys.push(key);
    }
    Ok(keys)
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
