//! The encoder of the changes format (the layout is in the parent module's docs): a [`Writer`]
//! fills the columns change by change, op by op.
use super::*;

/// A value of the `map_values` column: a map write's, or a mark's (stored as a scalar new
/// value, so that both share one column and one decoder).
enum Packed<'a> {
    New(&'a NewValue),
    Mark(&'a Scalar),
}

fn anchor_code(anchor: Anchor) -> u64 {
    match anchor {
        Anchor::Start => 0,
        Anchor::Before(_) => 1,
        Anchor::After(_) => 2,
        Anchor::End => 3,
    }
}

/// Builds the columns of a batch of changes.
#[derive(Default)]
struct Writer<'a> {
    replicas: Vec<ReplicaId>,
    // Ordered maps, not hash maps: the changes encoded may come from a hostile peer, and std's
    // hash keys are fixed on wasm32-unknown-unknown (collisions could be precomputed).
    replica_index: BTreeMap<ReplicaId, u64>,
    containers: Vec<&'a ContainerId>,
    container_index: BTreeMap<&'a ContainerId, u64>,
    keys: Vec<&'a str>,
    key_index: BTreeMap<&'a str, u64>,
    /// Per replica index: end of its previous change.
    replica_state: Vec<u64>,
    next_lamport: u64,
    change_count: u64,
    op_count: u64,
    change_replica: RleWriter,
    change_start: RleWriter,
    change_lamport: RleWriter,
    change_ops: RleWriter,
    parent_count: RleWriter,
    parent_replica: RleWriter,
    parent_counter: Vec<u8>,
    op_head: RleWriter,
    op_obj: RleWriter,
    op_key: RleWriter,
    pred_count: RleWriter,
    ref_agents: RleWriter,
    ref_counters: Vec<u8>,
    left_counters: RleWriter,
    right_counters: RleWriter,
    target_counters: Vec<u8>,
    /// First target of the previous delete (backspacing and forward deletes make runs of ±1).
    last_target: u64,
    counter_deltas: Vec<u8>,
    text: String,
    map_values: Vec<Packed<'a>>,
    list_values: Vec<&'a Value>,
    meta: MetaWriter,
    /// Container, last element and right origin of the previous op when it was an insert.
    last_insert: Option<(u64, Dot, Option<Dot>)>,
}

impl<'a> Writer<'a> {
    fn replica(&mut self, r: ReplicaId) -> u64 {
        let next = self.replicas.len() as u64;
        let i = *self.replica_index.entry(r).or_insert(next);
        if i == next {
            self.replicas.push(r);
            self.replica_state.push(1);
        }
        i
    }

    fn container(&mut self, id: &'a ContainerId) -> u64 {
        if let Some(&i) = self.container_index.get(id) {
            return i;
        }
        if let ContainerId::Created { id: dot, .. } = id {
            self.replica(dot.replica);
        }
        let i = self.containers.len() as u64;
        self.containers.push(id);
        self.container_index.insert(id, i);
        i
    }

    fn key(&mut self, key: &'a str) -> u64 {
        let next = self.keys.len() as u64;
        let i = *self.key_index.entry(key).or_insert(next);
        if i == next {
            self.keys.push(key);
        }
        i
    }

    /// The agent of a reference: 0 for none, else its replica index + 1.
    fn ref_agent(&mut self, r: Option<Dot>) {
        match r {
            None => self.ref_agents.push(0),
            Some(d) => {
                let a = self.replica(d.replica);
                self.ref_agents.push(a + 1);
            }
        }
    }

    /// Stores `change`'s parents: a 0 when they are the default, else their count + 1 and each.
    fn parents(&mut self, change: &Change) {
        let default = default_parent(change.id.replica, change.id.start);
        if change.parents.as_slice() == default.as_slice() {
            self.parent_count.push(0);
            return;
        }
        self.parent_count.push(change.parents.len() as u64 + 1);
        for parent in &change.parents {
            let i = self.replica(parent.replica);
            self.parent_replica.push(i);
            put_u64(&mut self.parent_counter, parent.counter);
        }
    }

    fn change(&mut self, change: &'a Change) {
        let r = self.replica(change.id.replica) as usize;
        self.change_count += 1;
        self.change_replica.push(r as u64);
        let expected_start = self.replica_state[r];
        self.change_start
            .push(zigzag(delta(change.id.start, expected_start)));
        self.change_lamport
            .push(zigzag(delta(change.lamport, self.next_lamport)));
        self.next_lamport = change.lamport.wrapping_add(change.id.len());
        self.change_ops.push(change.ops.len() as u64);
        self.parents(change);
        self.meta.push(change.meta.as_deref());
        self.replica_state[r] = change.id.end;
        for (dot, op) in change.ops_with_dots() {
            self.op(dot, op);
        }
    }

    fn op(&mut self, dot: Dot, op: &'a Op) {
        self.op_count += 1;
        let obj = self.container(op.obj());
        self.op_obj.push(obj);
        let last_insert = self.last_insert.take();
        match op {
            Op::MapSet { key, pred, .. } | Op::MapDelete { key, pred, .. } => {
                let kind = if let Op::MapSet { value, .. } = op {
                    self.map_values.push(Packed::New(value));
                    MAP_SET
                } else {
                    MAP_DELETE
                };
                self.op_head.push(kind);
                let k = self.key(key);
                self.op_key.push(k);
                self.pred_count.push(pred.len() as u64);
                for p in pred {
                    self.ref_agent(Some(*p));
                    put_i64(&mut self.ref_counters, delta(p.counter, dot.counter));
                }
            }
            Op::TextMark {
                start,
                end,
                key,
                value,
                ..
            } => self.mark(dot, *start, *end, key, value.as_ref()),
            Op::CounterAdd { delta, .. } => {
                self.op_head.push(COUNTER_ADD);
                put_i64(&mut self.counter_deltas, *delta);
            }
            Op::Text { op, .. } => {
                if let SeqOp::Insert { content, .. } = op {
                    self.text.push_str(content.as_str());
                }
                self.seq_op(obj, dot, op, TEXT_INSERT, last_insert);
            }
            Op::List { op, .. } => {
                if let SeqOp::Insert { content, .. } = op {
                    self.list_values.extend(content.0.iter());
                }
                self.seq_op(obj, dot, op, LIST_INSERT, last_insert);
            }
        }
    }

    /// A mark: head with flags, key, anchors' references, value.
    fn mark(
        &mut self,
        dot: Dot,
        start: Anchor,
        end: Anchor,
        key: &'a str,
        value: Option<&'a Scalar>,
    ) {
        let has_value = if value.is_some() { MARK_HAS_VALUE } else { 0 };
        let flags = anchor_code(start) | anchor_code(end) << 2 | has_value;
        self.op_head.push(flags << 8 | TEXT_MARK << 4 | EXTENDED);
        let k = self.key(key);
        self.op_key.push(k);
        for d in [start, end].into_iter().filter_map(Anchor::dot) {
            self.ref_agent(Some(d));
            put_i64(&mut self.ref_counters, delta(d.counter, dot.counter));
        }
        if let Some(v) = value {
            self.map_values.push(Packed::Mark(v));
        }
    }

    /// A sequence op; `insert_kind` is the insert code, the delete code is one more.
    fn seq_op<C: crate::seq::Content>(
        &mut self,
        obj: u64,
        dot: Dot,
        op: &SeqOp<C>,
        insert_kind: u64,
        last_insert: Option<(u64, Dot, Option<Dot>)>,
    ) {
        match op {
            SeqOp::Insert {
                origin_left,
                origin_right,
                content,
                ..
            } => {
                let len = content.len() as u64;
                let continues = matches!(
                    (last_insert, origin_left),
                    (Some((o, last, right)), Some(left))
                        if o == obj && last == *left && right == *origin_right
                );
                if continues {
                    self.op_head.push((len << 4) | CONTINUES | insert_kind);
                } else {
                    self.op_head.push((len << 4) | insert_kind);
                    self.ref_agent(*origin_left);
                    if let Some(left) = origin_left {
                        self.left_counters
                            .push(zigzag(delta(left.counter, dot.counter)));
                    }
                    self.ref_agent(*origin_right);
                    if let Some(right) = origin_right {
                        let base = origin_left.map_or(dot.counter, |l| l.counter);
                        self.right_counters.push(zigzag(delta(right.counter, base)));
                    }
                }
                let last = Dot::new(dot.replica, dot.counter.wrapping_add(len).wrapping_sub(1));
                self.last_insert = Some((obj, last, *origin_right));
            }
            SeqOp::Delete { target, len } => {
                self.op_head.push((len << 4) | (insert_kind + 1));
                self.ref_agent(Some(*target));
                put_i64(
                    &mut self.target_counters,
                    delta(target.counter, self.last_target),
                );
                self.last_target = target.counter;
            }
        }
    }

    fn finish(self) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.text.len() + 4 * self.op_count as usize + 64);
        put_u64(&mut raw, self.replicas.len() as u64);
        for r in &self.replicas {
            raw.extend_from_slice(&r.0.to_le_bytes());
        }
        put_u64(&mut raw, self.containers.len() as u64);
        for id in &self.containers {
            match id {
                ContainerId::Root { name, kind } => {
                    raw.push(kind_code(*kind));
                    put_bytes(&mut raw, name.as_bytes());
                }
                ContainerId::Created { id, kind } => {
                    raw.push(4 | kind_code(*kind));
                    // Interned when the container was.
                    put_u64(&mut raw, self.replica_index[&id.replica]);
                    put_u64(&mut raw, id.counter);
                }
            }
        }
        put_u64(&mut raw, self.keys.len() as u64);
        for k in &self.keys {
            put_bytes(&mut raw, k.as_bytes());
        }
        put_u64(&mut raw, self.change_count);
        put_u64(&mut raw, self.op_count);
        for column in [
            self.change_replica.finish(),
            self.change_start.finish(),
            self.change_lamport.finish(),
            self.change_ops.finish(),
            self.parent_count.finish(),
            self.parent_replica.finish(),
        ] {
            put_bytes(&mut raw, &column);
        }
        put_bytes(&mut raw, &self.parent_counter);
        for column in [
            self.op_head.finish(),
            self.op_obj.finish(),
            self.op_key.finish(),
            self.pred_count.finish(),
            self.ref_agents.finish(),
        ] {
            put_bytes(&mut raw, &column);
        }
        put_bytes(&mut raw, &self.ref_counters);
        put_bytes(&mut raw, &self.left_counters.finish());
        put_bytes(&mut raw, &self.right_counters.finish());
        put_bytes(&mut raw, &self.target_counters);
        put_bytes(&mut raw, &self.counter_deltas);
        put_bytes(&mut raw, self.text.as_bytes());
        put_bytes(
            &mut raw,
            &value_pack::array(&self.map_values, |o, v| match v {
                Packed::New(v) => value_pack::put_new_value(o, v),
                Packed::Mark(s) => value_pack::put_new_scalar(o, s),
            }),
        );
        put_bytes(
            &mut raw,
            &value_pack::array(&self.list_values, |o, v| value_pack::put_value(o, v)),
        );
        self.meta.finish(&mut raw);
        raw
    }
}

/// Encodes `changes` (in causal order) as a raw columnar body, without header or envelope.
pub(crate) fn encode_raw<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Vec<u8> {
    let mut w = Writer::default();
    for change in changes {
        w.change(change);
    }
    w.finish()
}
