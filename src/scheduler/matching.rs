//! Maximum-weight matching of a general graph: who has coffee with whom.
//!
//! The solver is exact. It is the primal–dual blossom algorithm of Edmonds in the form Galil
//! surveys ("Efficient algorithms for finding maximum matching in graphs", 1986), engineered for
//! large sparse graphs:
//!
//! * Every free vertex with a positive dual is the root of an alternating tree, and all trees
//!   grow at once. After an augmentation only the two trees it touched are dissolved; the rest
//!   keep their labels, so a stage costs about the work near the augmenting path.
//! * Dual changes are never applied vertex by vertex. A global clock counts the total dual
//!   change, and every vertex stores its dual with its label's drift taken out, so its dual at
//!   any clock follows from its own entry. Entries are rewritten only when a blossom's label
//!   changes, which visits its vertices anyway.
//! * The next event (an edge becoming tight, a T-blossom's dual reaching zero, an S-vertex's
//!   dual reaching zero) comes from one monotone priority queue keyed by the clock value at which
//!   it would happen. Entries are never updated in place: an entry is checked against the
//!   current state when it comes out and dropped if it went stale. Every change that can make an
//!   event earlier pushes a fresh entry, so a stale entry can always be dropped.
//! * Vertex duals start at the heaviest incident edge instead of the heaviest edge overall, so
//!   the first matches are edges that are the heaviest at both ends. The price: a vertex that is
//!   not a root can reach a zero dual too. It then becomes the free end of its tree's alternating
//!   path (fine, free vertices need only a zero dual), and a later tree that reaches a free
//!   vertex over a tight edge augments into it.
//!
//! Weights are multiplied by four internally (two for the usual `2w` in the edge constraint, two
//! more so that every starting dual is even); with even starting duals every vertex of a tree has
//! the parity of its root and every root the parity of the clock, so all slacks between two
//! S-vertices are even and every dual stays an integer.
//!
//! The tests check the dual solution the solver ends with, which proves its matching optimal.
//! Checked the same way once on the benchmark graphs `barabasi_albert(n, 6, 1)`: the optimum is
//! 399,274 at 10,000 vertices and 3,988,515 at 100,000 (greedy by weight reaches 87.9% and
//! 88.0%). networkx's `max_weight_matching` agrees on `barabasi_albert(3000, 6, 1)` (120,199)
//! and on 40 random graphs of 20 to 150 vertices with weights up to 10^12. On this project's two
//! shared cores the 100,000-vertex graph takes about 0.4 s to solve (criterion: 405 ms), up to
//! about 0.9 s while the other core is busy compiling; the 10,000-vertex one about 22 ms.

/// Something that happens when the clock reaches a certain value, unless the state changed in
/// between (checked when it comes up).
#[derive(Clone, Copy, Debug)]
enum Event {
    /// The edge from an S-vertex to an unlabelled vertex becomes tight; the endpoint given is
    /// the unlabelled one.
    Grow(u32),
    /// The edge between S-vertices of two blossoms, given by either endpoint, becomes tight.
    Link(u32),
    /// The dual of a T-blossom reaches zero.
    Expand(u32),
    /// The dual of an S-vertex reaches zero.
    ZeroDual(u32),
}

impl Event {
    /// Two bits of kind and 30 of index: a queue entry takes 16 bytes.
    fn pack(self) -> u32 {
        match self {
            Event::Grow(x) => x << 2,
            Event::Link(x) => (x << 2) | 1,
            Event::Expand(x) => (x << 2) | 2,
            Event::ZeroDual(x) => (x << 2) | 3,
        }
    }

    fn unpack(packed: u32) -> Self {
        let x = packed >> 2;
        match packed & 3 {
            0 => Event::Grow(x),
            1 => Event::Link(x),
            2 => Event::Expand(x),
            _ => Event::ZeroDual(x),
        }
    }
}

/// A monotone priority queue (a radix heap): every key pushed is at least the last key popped,
/// which holds for the clock. An entry sits in the bucket numbered by the highest bit in which
/// its key differs from the last key popped; popping empties the lowest non-empty bucket into
/// lower ones. Work stays sequential in memory, far cheaper than a binary heap of millions of
/// entries, and ties come out in an order fixed by the pushes.
struct RadixHeap {
    last: u64,
    buckets: [Vec<(u64, u32)>; 65],
}

impl Default for RadixHeap {
    fn default() -> Self {
        RadixHeap { last: 0, buckets: std::array::from_fn(|_| Vec::new()) }
    }
}

impl RadixHeap {
    fn bucket(&self, key: u64) -> usize {
        (u64::BITS - (key ^ self.last).leading_zeros()) as usize
    }

    fn push(&mut self, key: i64, event: Event) {
        debug_assert!(key >= self.last as i64, "radix heap keys must not go back");
        let key = key as u64;
        let i = self.bucket(key);
        self.buckets[i].push((key, event.pack()));
    }

    fn pop(&mut self) -> Option<(i64, Event)> {
        if self.buckets[0].is_empty() {
            let i = (1..self.buckets.len()).find(|&i| !self.buckets[i].is_empty())?;
            let mut spill = std::mem::take(&mut self.buckets[i]);
            self.last = spill.iter().map(|&(key, _)| key).min().expect("non-empty");
            for (key, event) in spill.drain(..) {
                let j = self.bucket(key);
                self.buckets[j].push((key, event));
            }
            self.buckets[i] = spill;
        }
        self.buckets[0].pop().map(|(key, event)| (key as i64, Event::unpack(event)))
    }
}

/// Marks an absent vertex, endpoint, blossom or tree.
const NONE: u32 = u32::MAX;
const FREE: u8 = 0;
const S: u8 = 1;
const T: u8 = 2;

/// An undirected edge `(u, v, weight)`.
pub type Edge = (u32, u32, i64);

/// A maximum-weight matching of the graph with vertices `0..n`: the pairs `(u, v)`, `u < v`,
/// sorted. Edges of weight `<= 0` and self-loops are ignored; of duplicate edges the heaviest
/// counts. The result depends only on the input.
///
/// # Panics
/// If an edge names a vertex `>= n`, if a weight exceeds 2^58, or if there are 2^29 or more
/// vertices or edges.
pub fn max_weight_matching(n: usize, edges: &[Edge]) -> Vec<(u32, u32)> {
    let mut solver = Solver::new(n, edges);
    solver.run();
    solver.pairs()
}

/// Weights under which a maximum-weight matching is a maximum-cardinality matching first, and
/// among the matchings of that size one of the greatest total of the original weights. Every
/// edge of weight `w > 0` becomes `lift + w`; the others are left out, as the solver ignores
/// them anyway. Gives `lift` and the new edges, in the same order, or `None` when a lifted
/// weight would pass what the solver takes (2^58: with `n < 2^29`, only an affinity above 2^29
/// could do that).
///
/// The solver takes a little longer on lifted weights. On the rounds of the seeds (`cuppa
/// match` on the graphs `cuppa schedule --dry-run --edges` wrote, a quiet machine): 71,440
/// members and 89,722 pairs, 28 ms against 24 ms by affinity alone and 57 ms with all weights
/// equal; 713,425 members and 899,149 pairs, 0.9 s against 0.7 s and 1.4 s. On the denser
/// benchmark graph `barabasi_albert(100_000, 6, 1)`, 0.70 s against 0.22 s.
///
/// Why this `lift` works. A matching `M` weighs `lift * |M| + W(M)` afterwards, so two matchings
/// of the same size keep their order. Take `|M1| > |M2|`: `M1` has at most `n / 2` pairs, so
/// `M2` at most `n / 2 - 1`, and `W(M2) <= (n / 2 - 1) * w_max < lift` while `W(M1) > 0`. So
/// `lift * |M1| + W(M1) > lift * (|M2| + 1) > lift * |M2| + W(M2)`: the larger matching always
/// weighs more.
pub fn cardinality_first(n: usize, edges: &[Edge]) -> Option<(i64, Vec<Edge>)> {
    let heaviest = edges.iter().map(|&(_, _, w)| w).max().unwrap_or(0).max(1);
    let most_pairs = i64::try_from(n / 2).ok()?.max(1);
    let lift = most_pairs.checked_mul(heaviest)?;
    if lift.checked_add(heaviest)? > MAX_WEIGHT {
        return None;
    }
    Some((lift, edges.iter().filter(|&&(_, _, w)| w > 0).map(|&(u, v, w)| (u, v, lift + w)).collect()))
}

/// The total weight of `pairs` under the heaviest of the `edges` joining each pair; a pair that
/// no edge joins counts as zero.
pub fn matching_weight(edges: &[Edge], pairs: &[(u32, u32)]) -> i64 {
    let mut best = std::collections::HashMap::with_capacity(pairs.len());
    for &(u, v) in pairs {
        best.insert((u.min(v), u.max(v)), 0i64);
    }
    for &(u, v, w) in edges {
        if let Some(b) = best.get_mut(&(u.min(v), u.max(v))) {
            *b = (*b).max(w);
        }
    }
    best.values().sum()
}

/// splitmix64: a tiny, well-mixed generator, written out so that generated graphs never change
/// with a dependency's version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (the modulo bias is far below anything a test could notice).
    fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }
}

/// A Barabási–Albert preferential-attachment graph: the first `per_node + 1` vertices form a
/// clique, then every further vertex joins `per_node` distinct earlier vertices chosen with
/// probability proportional to their degree. Weights are uniform in `1..=100`. The same
/// arguments always give the same edges, in the same order.
pub fn barabasi_albert(n: usize, per_node: usize, seed: u64) -> Vec<Edge> {
    let mut rng = SplitMix64::new(seed);
    let mut edges = Vec::with_capacity(n.saturating_mul(per_node));
    // Every edge puts both its ends here, so a uniform pick is a degree-proportional pick.
    let mut ends: Vec<u32> = Vec::with_capacity(2 * n.saturating_mul(per_node));
    let mut chosen: Vec<u32> = Vec::with_capacity(per_node);
    for v in 1..n as u32 {
        chosen.clear();
        if v as usize <= per_node {
            chosen.extend(0..v);
        } else {
            while chosen.len() < per_node {
                let t = ends[rng.below(ends.len() as u64) as usize];
                if !chosen.contains(&t) {
                    chosen.push(t);
                }
            }
        }
        for &t in &chosen {
            edges.push((t, v, 1 + rng.below(100) as i64));
            ends.push(t);
            ends.push(v);
        }
    }
    edges
}

/// Reads an edge list: a first line `n m`, then `m` lines `u v w` with 0-based vertices below
/// `n` and integer weights. Blank lines and lines starting with `#` are skipped.
pub fn parse_edge_list(text: &str) -> Result<(usize, Vec<Edge>), String> {
    let mut lines =
        text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (line_no, header) = lines.next().ok_or("empty edge list: expected a first line \"n m\"")?;
    let fields: Vec<&str> = header.split_whitespace().collect();
    let [n, m] = fields[..] else {
        return Err(format!("line {line_no}: expected \"n m\", found {header:?}"));
    };
    let n: u32 = match n.parse() {
        Ok(n) if n < MAX_COUNT => n,
        _ => return Err(format!("line {line_no}: vertex count {n:?} is not a number below 2^29")),
    };
    let m: usize = match m.parse() {
        Ok(m) if m < MAX_COUNT as usize => m,
        _ => return Err(format!("line {line_no}: edge count {m:?} is not a number below 2^29")),
    };
    // The count comes from the file; do not let a typo reserve gigabytes.
    let mut edges = Vec::with_capacity(m.min(1 << 24));
    for (line_no, line) in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [u, v, w] = fields[..] else {
            return Err(format!("line {line_no}: expected \"u v w\", found {line:?}"));
        };
        let vertex = |s: &str| match s.parse::<u32>() {
            Ok(x) if x < n => Ok(x),
            Ok(_) => Err(format!("line {line_no}: vertex {s} is out of range 0..{n}")),
            Err(_) => Err(format!("line {line_no}: vertex {s:?} is not a non-negative integer")),
        };
        let w: i64 = w.parse().map_err(|_| format!("line {line_no}: weight {w:?} is not an integer"))?;
        if w > MAX_WEIGHT {
            return Err(format!("line {line_no}: weight {w} is above 2^58"));
        }
        edges.push((vertex(u)?, vertex(v)?, w));
    }
    if edges.len() != m {
        return Err(format!("the header announces {m} edges but the file has {}", edges.len()));
    }
    Ok((n as usize, edges))
}

/// Writes the format [`parse_edge_list`] reads.
pub fn write_edge_list(n: usize, edges: &[Edge]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(16 * edges.len() + 32);
    let _ = writeln!(out, "{n} {}", edges.len());
    for &(u, v, w) in edges {
        let _ = writeln!(out, "{u} {v} {w}");
    }
    out
}

/// The largest weight the solver accepts. Internally a weight counts four times, a T-vertex's
/// dual is at most its matched edge's, and a slack adds two duals: 2^58 keeps all of it (and the
/// clock on top) inside an i64.
const MAX_WEIGHT: i64 = 1 << 58;

/// Vertex and edge numbers, with two bits of event kind, fit a u32.
const MAX_COUNT: u32 = 1 << 29;

/// One edge seen from one end, with what a scan needs in a single place.
#[derive(Clone, Copy, Default)]
struct Incident {
    to: u32,
    /// The endpoint at `to`.
    p: u32,
    cost: i64,
}

/// What a look along an edge needs about a vertex, in 16 bytes. Every vertex carries the label
/// of its top-level blossom, so its dual follows from its own entry alone.
#[derive(Clone, Copy)]
struct Node {
    /// For a vertex, the top-level blossom containing it.
    top: u32,
    /// For a vertex, the label of its top-level blossom; for a blossom, its own label while it
    /// is top-level and `FREE` once it is inside another.
    label: u8,
    /// The dual with the label's drift taken out, constant while the label lasts: a vertex's
    /// dual is `dual0 + drift(label) * clock`, a blossom's `dual0 - 2 * drift(label) * clock`.
    dual0: i64,
}

/// How fast an S- or T-vertex's dual moves with the clock (a blossom's moves the other way, at
/// twice the rate).
fn drift(label: u8) -> i64 {
    match label {
        S => -1,
        T => 1,
        _ => 0,
    }
}

/// The solver's state. Vertices are `0..n`; blossoms other than single vertices are
/// `n..2n`. Edge `k` has the endpoints `2k` and `2k + 1`; `endpoint[p]` is the vertex of
/// endpoint `p`, and `p ^ 1` is the other end of the same edge. Following the usual convention,
/// adjacency lists, `mate` and `labelend` hold the *remote* endpoint.
struct Solver {
    n: usize,
    endpoint: Vec<u32>,
    /// Four times the edge weight: the right-hand side of `y_u + y_v + Σ z_B ≥ cost`.
    cost: Vec<i64>,
    adj_start: Vec<u32>,
    adj: Vec<Incident>,
    /// For a vertex, the remote endpoint of its matched edge.
    mate: Vec<u32>,
    /// Vertices `0..n`, then blossoms `n..2n`.
    node: Vec<Node>,
    /// For a vertex or blossom, the blossom immediately containing it.
    parent: Vec<u32>,
    /// A blossom's sub-blossoms around its odd cycle, starting at the one holding its base.
    childs: Vec<Vec<u32>>,
    /// `endps[b - n][i]` is the endpoint in `childs[b - n][i]` of the edge to the next child.
    endps: Vec<Vec<u32>>,
    base: Vec<u32>,
    /// For a labelled top-level blossom, the remote endpoint of the edge it was labelled over.
    labelend: Vec<u32>,
    /// The root of the tree a vertex belongs to.
    tree: Vec<u32>,
    /// For a root, every other vertex that joined its tree (some may have left since).
    members: Vec<Vec<u32>>,
    unused_blossoms: Vec<u32>,
    /// The total dual change so far.
    clock: i64,
    /// Every event that may happen, keyed by the clock at which it would.
    events: RadixHeap,
    /// S-vertices whose edges still have to be looked at.
    to_scan: Vec<u32>,
    /// Blossoms already on the walk of `common_base`.
    marked: Vec<bool>,
    /// Reused for lists of leaves, to spare an allocation per label.
    scratch: Vec<u32>,
    /// Reused for the vertices of a dissolved tree.
    gone: Vec<u32>,
}

impl Solver {
    fn new(n: usize, input: &[Edge]) -> Self {
        assert!(n < MAX_COUNT as usize, "too many vertices: {n}");
        let edges: Vec<Edge> = input
            .iter()
            .filter(|&&(u, v, w)| {
                assert!((u as usize) < n && (v as usize) < n, "edge ({u}, {v}) names a vertex outside 0..{n}");
                assert!(w <= MAX_WEIGHT, "weight {w} is beyond 2^58");
                u != v && w > 0
            })
            .copied()
            .collect();
        // Parallel edges need no merging: a lighter copy always has more slack than the heaviest
        // one, so it is never tight while that one is covered, and only tight edges get matched.

        let m = edges.len();
        assert!(m < MAX_COUNT as usize, "too many edges: {m}");
        let mut endpoint = Vec::with_capacity(2 * m);
        let mut cost = Vec::with_capacity(m);
        let mut degree = vec![0u32; n + 1];
        let mut y = vec![0i64; n];
        for &(u, v, w) in &edges {
            endpoint.push(u);
            endpoint.push(v);
            cost.push(4 * w);
            degree[u as usize] += 1;
            degree[v as usize] += 1;
            y[u as usize] = y[u as usize].max(2 * w);
            y[v as usize] = y[v as usize].max(2 * w);
        }
        let mut adj_start = vec![0u32; n + 1];
        for v in 0..n {
            adj_start[v + 1] = adj_start[v] + degree[v];
        }
        let mut fill = adj_start.clone();
        let mut adj = vec![Incident::default(); 2 * m];
        for p in 0..2 * m as u32 {
            // Vertex endpoint[p] reaches the other end, p ^ 1.
            let v = endpoint[p as usize] as usize;
            adj[fill[v] as usize] = Incident { to: endpoint[p as usize ^ 1], p: p ^ 1, cost: cost[p as usize / 2] };
            fill[v] += 1;
        }

        let mut solver = Solver {
            n,
            endpoint,
            cost,
            adj_start,
            adj,
            mate: vec![NONE; n],
            node: (0..n).map(|v| Node { top: v as u32, label: FREE, dual0: y[v] }).collect(),
            parent: vec![NONE; n],
            childs: Vec::new(),
            endps: Vec::new(),
            base: (0..n as u32).collect(),
            labelend: vec![NONE; n],
            tree: vec![NONE; n],
            members: vec![Vec::new(); n],
            unused_blossoms: Vec::new(),
            scratch: Vec::new(),
            gone: Vec::new(),
            clock: 0,
            events: RadixHeap::default(),
            to_scan: Vec::with_capacity(n),
            marked: vec![false; n],
        };
        // Every vertex with an edge starts as the root of its own tree; a vertex without one
        // has a zero dual and may stay single. All of them are S-vertices, so instead of
        // scanning each, queue every edge once.
        for v in 0..n as u32 {
            let y = solver.node[v as usize].dual0;
            if y > 0 {
                solver.tree[v as usize] = v;
                solver.node[v as usize].label = S;
                solver.events.push(y, Event::ZeroDual(v));
            }
        }
        for k in 0..m {
            let (u, v) = (solver.endpoint[2 * k] as usize, solver.endpoint[2 * k + 1] as usize);
            let slack = solver.node[u].dual0 + solver.node[v].dual0 - solver.cost[k];
            solver.events.push(slack / 2, Event::Link(2 * k as u32));
        }
        solver
    }

    /// The current dual of vertex `v`.
    fn dual(&self, v: u32) -> i64 {
        let node = self.node[v as usize];
        node.dual0 + drift(node.label) * self.clock
    }

    /// The current dual of blossom `b`.
    fn blossom_dual(&self, b: u32) -> i64 {
        let node = self.node[b as usize];
        node.dual0 - 2 * drift(node.label) * self.clock
    }

    /// Gives vertex `v` a new label, keeping its current dual.
    fn relabel_vertex(&mut self, v: u32, label: u8) {
        let y = self.dual(v);
        self.node[v as usize] = Node { label, dual0: y - drift(label) * self.clock, ..self.node[v as usize] };
    }

    /// Gives blossom `b` (not a single vertex) a new label, keeping its current dual.
    fn relabel_blossom(&mut self, b: u32, label: u8) {
        let z = self.blossom_dual(b);
        self.node[b as usize] = Node { label, dual0: z + 2 * drift(label) * self.clock, ..self.node[b as usize] };
    }

    /// Slack of edge `k` between two different top-level blossoms.
    fn slack(&self, k: u32) -> i64 {
        let k = k as usize;
        self.dual(self.endpoint[2 * k]) + self.dual(self.endpoint[2 * k + 1]) - self.cost[k]
    }

    fn label_of(&self, v: u32) -> u8 {
        self.node[v as usize].label
    }

    fn neighbours(&self, v: u32) -> std::ops::Range<usize> {
        self.adj_start[v as usize] as usize..self.adj_start[v as usize + 1] as usize
    }

    /// Appends the vertices inside blossom `b` to `out`.
    fn leaves(&self, b: u32, out: &mut Vec<u32>) {
        if (b as usize) < self.n {
            out.push(b);
            return;
        }
        let mut stack = vec![b];
        while let Some(b) = stack.pop() {
            for &c in &self.childs[b as usize - self.n] {
                if (c as usize) < self.n {
                    out.push(c);
                } else {
                    stack.push(c);
                }
            }
        }
    }

    fn leaves_of(&self, b: u32) -> Vec<u32> {
        let mut out = Vec::new();
        self.leaves(b, &mut out);
        out
    }

    fn run(&mut self) {
        loop {
            while let Some(v) = self.to_scan.pop() {
                self.scan(v);
            }
            let Some((at, event)) = self.events.pop() else { break };
            // No event, stale or not, is due earlier: the clock may move on even if this one
            // turns out stale.
            debug_assert!(at >= self.clock);
            self.clock = at;
            match event {
                Event::Grow(p) => {
                    let (v, w) = (self.endpoint[p as usize ^ 1], self.endpoint[p as usize]);
                    if self.label_of(v) == S && self.label_of(w) == FREE && self.slack(p / 2) == 0 {
                        self.on_grow(p);
                    }
                }
                Event::Link(p) => {
                    let (bv, bw) = (
                        self.node[self.endpoint[p as usize] as usize].top,
                        self.node[self.endpoint[p as usize ^ 1] as usize].top,
                    );
                    if bv != bw
                        && self.node[bv as usize].label == S
                        && self.node[bw as usize].label == S
                        && self.slack(p / 2) == 0
                    {
                        self.on_link(p);
                    }
                }
                Event::Expand(b) => {
                    let i = b as usize;
                    if self.parent[i] == NONE && self.node[i].label == T && self.blossom_dual(b) == 0 {
                        self.expand_t_blossom(b);
                    }
                }
                Event::ZeroDual(v) => {
                    if self.label_of(v) == S && self.dual(v) == 0 {
                        self.on_zero_dual(v);
                    }
                }
            }
        }
    }

    /// Looks at the edges of a new S-vertex and queues the events they can cause.
    fn scan(&mut self, v: u32) {
        let bv = self.node[v as usize].top;
        if self.node[bv as usize].label != S {
            return;
        }
        let yv = self.dual(v);
        self.events.push(self.clock + yv, Event::ZeroDual(v));
        for i in self.neighbours(v) {
            let Incident { to: w, p, cost } = self.adj[i];
            let Node { top: bw, label, dual0 } = self.node[w as usize];
            if bw == bv {
                continue;
            }
            match label {
                S => {
                    let slack = yv + dual0 - self.clock - cost;
                    debug_assert!(slack >= 0 && slack % 2 == 0, "S-S slack {slack}");
                    self.events.push(self.clock + slack / 2, Event::Link(p));
                }
                // See scan_unlabelled for why an edge this light needs no event.
                FREE if dual0 < cost => {
                    let slack = yv + dual0 - cost;
                    debug_assert!(slack >= 0, "S-free slack {slack}");
                    self.events.push(self.clock + slack, Event::Grow(p));
                }
                _ => {}
            }
        }
    }

    /// Queues the events the S-neighbours of a newly unlabelled vertex can cause.
    fn scan_unlabelled(&mut self, v: u32) {
        let bv = self.node[v as usize].top;
        let yv = self.dual(v);
        for i in self.neighbours(v) {
            let Incident { to: w, p, cost } = self.adj[i];
            // The edge gets tight when the clock has moved by yv + y_w - cost, but the S-vertex's
            // dual reaches zero after y_w, and that dissolves its tree. So if yv >= cost the
            // edge's event would always come too late to matter. Skip such edges (any edge
            // under half of v's heaviest) before looking the other end up.
            if yv >= cost {
                continue;
            }
            let Node { top: bw, label, dual0 } = self.node[w as usize];
            if bw != bv && label == S {
                let slack = yv + dual0 - self.clock - cost;
                debug_assert!(slack >= 0, "S-free slack {slack}");
                self.events.push(self.clock + slack, Event::Grow(p ^ 1));
            }
        }
    }

    /// An edge from an S-vertex to an unlabelled blossom became tight: the blossom joins the
    /// tree as a T-blossom with its mate as an S-blossom, or, if it is free, it is the far end of
    /// an augmenting path.
    fn on_grow(&mut self, p: u32) {
        let (v, w) = (self.endpoint[p as usize ^ 1], self.endpoint[p as usize]);
        let bw = self.node[w as usize].top;
        let root = self.tree[v as usize];
        if self.mate[self.base[bw as usize] as usize] == NONE {
            self.augment(p / 2);
            self.dissolve(root);
        } else {
            self.assign_label(w, T, p ^ 1, root);
        }
    }

    /// An edge between two S-blossoms became tight: in one tree it closes a blossom, across two
    /// trees it completes an augmenting path.
    fn on_link(&mut self, p: u32) {
        let (v, w) = (self.endpoint[p as usize], self.endpoint[p as usize ^ 1]);
        let (rv, rw) = (self.tree[v as usize], self.tree[w as usize]);
        if rv == rw {
            let base = self.common_base(v, w);
            self.add_blossom(base, p / 2);
        } else {
            self.augment(p / 2);
            self.dissolve(rv);
            self.dissolve(rw);
        }
    }

    /// An S-vertex's dual reached zero, so it may as well be single: it becomes the free end of
    /// its tree's alternating path (if it is not the root already) and the tree is dissolved.
    fn on_zero_dual(&mut self, v: u32) {
        let root = self.tree[v as usize];
        if v != root {
            self.flip_path(v, NONE);
        }
        self.dissolve(root);
    }

    /// Labels the top-level blossom holding `w` over the edge whose remote endpoint is `p`; a
    /// T-blossom's mate becomes an S-blossom of the same tree.
    fn assign_label(&mut self, w: u32, label: u8, p: u32, root: u32) {
        let b = self.node[w as usize].top;
        let i = b as usize;
        debug_assert_eq!(self.node[i].label, FREE);
        self.labelend[i] = p;
        if i >= self.n {
            self.relabel_blossom(b, label);
        }
        let mut leaves = std::mem::take(&mut self.scratch);
        leaves.clear();
        self.leaves(b, &mut leaves);
        for &v in &leaves {
            self.relabel_vertex(v, label);
            if self.tree[v as usize] != root {
                self.tree[v as usize] = root;
                self.members[root as usize].push(v);
            }
        }
        if label == S {
            self.to_scan.extend_from_slice(&leaves);
        }
        self.scratch = leaves;
        if label == T {
            if i >= self.n {
                self.events.push(self.clock + self.blossom_dual(b) / 2, Event::Expand(b));
            }
            let mate = self.mate[self.base[i] as usize];
            debug_assert_ne!(mate, NONE);
            self.assign_label(self.endpoint[mate as usize], S, mate ^ 1, root);
        }
    }

    /// The base of the blossom that edge `(v, w)` closes, both ends being S-vertices of one tree:
    /// walk up from both ends in turn until one walk meets the other's path.
    fn common_base(&mut self, v: u32, w: u32) -> u32 {
        let mut path = Vec::new();
        let (mut v, mut w) = (v, w);
        let mut base = NONE;
        while v != NONE {
            let b = self.node[v as usize].top;
            if self.marked[b as usize] {
                base = self.base[b as usize];
                break;
            }
            self.marked[b as usize] = true;
            path.push(b);
            let up = self.labelend[b as usize];
            v = if up == NONE {
                NONE
            } else {
                let t = self.node[self.endpoint[up as usize] as usize].top;
                self.endpoint[self.labelend[t as usize] as usize]
            };
            if w != NONE {
                std::mem::swap(&mut v, &mut w);
            }
        }
        for b in path {
            self.marked[b as usize] = false;
        }
        debug_assert_ne!(base, NONE, "a blossom edge within one tree must meet");
        base
    }

    /// An unused blossom number; the per-blossom arrays grow only as far as blossoms are used at
    /// once, which on sparse graphs is far below the n/2 possible.
    fn new_blossom(&mut self) -> u32 {
        if let Some(b) = self.unused_blossoms.pop() {
            return b;
        }
        self.node.push(Node { top: NONE, label: FREE, dual0: 0 });
        self.parent.push(NONE);
        self.base.push(NONE);
        self.labelend.push(NONE);
        self.marked.push(false);
        self.childs.push(Vec::new());
        self.endps.push(Vec::new());
        (self.node.len() - 1) as u32
    }

    /// Makes the odd cycle through edge `k` and the tree paths up to `base` a new S-blossom.
    fn add_blossom(&mut self, base: u32, k: u32) {
        let (mut v, mut w) = (self.endpoint[2 * k as usize], self.endpoint[2 * k as usize + 1]);
        let bb = self.node[base as usize].top;
        let mut bv = self.node[v as usize].top;
        let mut bw = self.node[w as usize].top;
        let b = self.new_blossom();
        let mut path = vec![];
        let mut endps = vec![];
        while bv != bb {
            path.push(bv);
            endps.push(self.labelend[bv as usize]);
            v = self.endpoint[self.labelend[bv as usize] as usize];
            bv = self.node[v as usize].top;
        }
        path.push(bb);
        path.reverse();
        endps.reverse();
        endps.push(2 * k);
        while bw != bb {
            path.push(bw);
            endps.push(self.labelend[bw as usize] ^ 1);
            w = self.endpoint[self.labelend[bw as usize] as usize];
            bw = self.node[w as usize].top;
        }
        // Every vertex turns S; those that were T must be scanned. The children's own duals
        // stop moving.
        let mut leaves = Vec::new();
        for &c in &path {
            let start = leaves.len();
            self.leaves(c, &mut leaves);
            if self.node[c as usize].label == T {
                self.to_scan.extend_from_slice(&leaves[start..]);
            }
            for &v in &leaves[start..] {
                self.relabel_vertex(v, S);
            }
            if c as usize >= self.n {
                self.relabel_blossom(c, FREE);
            }
        }
        for &c in &path {
            self.parent[c as usize] = b;
        }
        for &v in &leaves {
            self.node[v as usize].top = b;
        }
        let i = b as usize;
        self.parent[i] = NONE;
        self.base[i] = base;
        self.node[i] = Node { top: NONE, label: FREE, dual0: 0 };
        self.relabel_blossom(b, S);
        self.labelend[i] = self.labelend[bb as usize];
        self.childs[i - self.n] = path;
        self.endps[i - self.n] = endps;
    }

    /// A T-blossom's dual reached zero: it comes apart into its sub-blossoms. Those on the even
    /// path from where the tree enters it to its base stay in the tree (alternately T and S);
    /// the others leave the tree.
    fn expand_t_blossom(&mut self, b: u32) {
        let i = b as usize;
        for v in self.leaves_of(b) {
            self.relabel_vertex(v, FREE);
        }
        debug_assert_eq!(self.blossom_dual(b), 0);
        self.node[i] = Node { top: NONE, label: FREE, dual0: 0 };
        let childs = std::mem::take(&mut self.childs[i - self.n]);
        let endps = std::mem::take(&mut self.endps[i - self.n]);
        for &c in &childs {
            self.parent[c as usize] = NONE;
            for v in self.leaves_of(c) {
                self.node[v as usize].top = c;
            }
        }
        let len = childs.len() as isize;
        let at = |j: isize| j.rem_euclid(len) as usize;
        let entered = self.endpoint[self.labelend[i] as usize ^ 1];
        let root = self.tree[entered as usize];
        let entry = self.node[entered as usize].top;
        let mut j = childs.iter().position(|&c| c == entry).expect("entry is a child") as isize;
        // Walk the even-length way round from the entry child to the base child.
        let (step, trick): (isize, isize) = if j & 1 == 1 { (1, 0) } else { (-1, 1) };
        let mut p = self.labelend[i];
        while j.rem_euclid(len) != 0 {
            self.assign_label(self.endpoint[p as usize ^ 1], T, p, root);
            j += step;
            p = endps[at(j - trick)] ^ trick as u32;
            j += step;
        }
        // The base child is T; its mate lies outside and is already S.
        let c = childs[0];
        self.labelend[c as usize] = p;
        if c as usize >= self.n {
            self.relabel_blossom(c, T);
            self.events.push(self.clock + self.blossom_dual(c) / 2, Event::Expand(c));
        }
        for v in self.leaves_of(c) {
            self.relabel_vertex(v, T);
        }
        j += step;
        while childs[at(j)] != entry {
            for v in self.leaves_of(childs[at(j)]) {
                self.tree[v as usize] = NONE;
                self.scan_unlabelled(v);
            }
            j += step;
        }
        self.labelend[i] = NONE;
        self.base[i] = NONE;
        self.childs[i - self.n] = childs;
        self.childs[i - self.n].clear();
        self.endps[i - self.n] = endps;
        self.endps[i - self.n].clear();
        self.unused_blossoms.push(b);
    }

    /// Flips the matching along the path from the root of each end of edge `k` (the far end may
    /// be a retired free blossom rather than a tree).
    fn augment(&mut self, k: u32) {
        self.flip_path(self.endpoint[2 * k as usize], 2 * k + 1);
        self.flip_path(self.endpoint[2 * k as usize + 1], 2 * k);
    }

    /// Matches vertex `s` over the remote endpoint `p` (or leaves it single if `p` is `NONE`) and
    /// flips the alternating path from its blossom up to the root of its tree.
    fn flip_path(&mut self, s: u32, p: u32) {
        let (mut s, mut p) = (s, p);
        loop {
            let bs = self.node[s as usize].top;
            if bs as usize >= self.n {
                self.augment_blossom(bs, s);
            }
            self.mate[s as usize] = p;
            let up = self.labelend[bs as usize];
            if up == NONE {
                break;
            }
            let t = self.endpoint[up as usize];
            let bt = self.node[t as usize].top;
            let down = self.labelend[bt as usize];
            s = self.endpoint[down as usize];
            let j = self.endpoint[down as usize ^ 1];
            if bt as usize >= self.n {
                self.augment_blossom(bt, j);
            }
            self.mate[j as usize] = down;
            p = down ^ 1;
        }
    }

    /// Re-matches the inside of blossom `b` so that vertex `v` becomes its base.
    fn augment_blossom(&mut self, b: u32, v: u32) {
        let mut t = v;
        while self.parent[t as usize] != b {
            t = self.parent[t as usize];
        }
        if t as usize >= self.n {
            self.augment_blossom(t, v);
        }
        let i = b as usize;
        let len = self.childs[i - self.n].len() as isize;
        let at = |j: isize| j.rem_euclid(len) as usize;
        let first = self.childs[i - self.n].iter().position(|&c| c == t).expect("t is a child");
        let mut j = first as isize;
        let (step, trick): (isize, isize) = if j & 1 == 1 { (1, 0) } else { (-1, 1) };
        while j.rem_euclid(len) != 0 {
            j += step;
            let t = self.childs[i - self.n][at(j)];
            let p = self.endps[i - self.n][at(j - trick)] ^ trick as u32;
            if t as usize >= self.n {
                self.augment_blossom(t, self.endpoint[p as usize]);
            }
            j += step;
            let t = self.childs[i - self.n][at(j)];
            if t as usize >= self.n {
                self.augment_blossom(t, self.endpoint[p as usize ^ 1]);
            }
            self.mate[self.endpoint[p as usize] as usize] = p ^ 1;
            self.mate[self.endpoint[p as usize ^ 1] as usize] = p;
        }
        self.childs[i - self.n].rotate_left(first);
        self.endps[i - self.n].rotate_left(first);
        self.base[i] = self.base[self.childs[i - self.n][0] as usize];
        debug_assert_eq!(self.base[i], v);
    }

    /// Takes every blossom of the tree rooted at `root` out of the tree, after an augmentation
    /// through it or when its root's dual reached zero.
    fn dissolve(&mut self, root: u32) {
        let mut members = std::mem::take(&mut self.members[root as usize]);
        // The root is a member from the start without being listed.
        members.push(root);
        let mut gone = std::mem::take(&mut self.gone);
        gone.clear();
        for &v in &members {
            if self.tree[v as usize] == root {
                self.tree[v as usize] = NONE;
                gone.push(v);
            }
        }
        for &v in &gone {
            let b = self.node[v as usize].top;
            if b as usize >= self.n && self.node[b as usize].label != FREE {
                self.relabel_blossom(b, FREE);
            }
            self.labelend[b as usize] = NONE;
            self.relabel_vertex(v, FREE);
        }
        for &v in &gone {
            self.scan_unlabelled(v);
        }
        self.gone = gone;
        self.members[root as usize] = members;
        self.members[root as usize].clear();
    }

    fn pairs(&self) -> Vec<(u32, u32)> {
        (0..self.n as u32)
            .filter_map(|v| {
                let p = self.mate[v as usize];
                let u = if p == NONE { return None } else { self.endpoint[p as usize] };
                (v < u).then_some((v, u))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the dual solution the solver ends with proves its matching optimal: y ≥ 0, z ≥ 0,
    /// every edge covered, matched edges tight, free vertices and non-full blossoms at zero.
    fn certify(solver: &Solver) {
        let n = solver.n;
        let mut ancestors: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (v, up) in ancestors.iter_mut().enumerate() {
            let mut b = solver.parent[v];
            while b != NONE {
                up.push(b);
                b = solver.parent[b as usize];
            }
            let y = solver.dual(v as u32);
            assert!(y >= 0, "vertex {v} has dual {y}");
            if solver.mate[v] == NONE {
                assert_eq!(y, 0, "free vertex {v} has dual {y}");
            }
        }
        let mut matched_inside = std::collections::HashMap::<u32, usize>::new();
        let mut size = std::collections::HashMap::<u32, usize>::new();
        for &b in ancestors.iter().flatten() {
            *size.entry(b).or_default() += 1;
        }
        for k in 0..solver.cost.len() {
            let (u, v) = (solver.endpoint[2 * k] as usize, solver.endpoint[2 * k + 1] as usize);
            let mut lhs = solver.dual(u as u32) + solver.dual(v as u32);
            for &b in &ancestors[u] {
                if ancestors[v].contains(&b) {
                    lhs += solver.blossom_dual(b);
                }
            }
            let matched = solver.mate[u] == 2 * k as u32 + 1;
            if matched {
                assert_eq!(lhs, solver.cost[k], "matched edge {u}-{v} is not tight");
                for &b in &ancestors[u] {
                    if ancestors[v].contains(&b) {
                        *matched_inside.entry(b).or_default() += 1;
                    }
                }
            } else {
                assert!(lhs >= solver.cost[k], "edge {u}-{v} is not covered");
            }
        }
        for (&b, &s) in &size {
            let z = solver.blossom_dual(b);
            assert!(z >= 0, "blossom {b} has dual {z}");
            if z > 0 {
                assert_eq!(
                    matched_inside.get(&b).copied().unwrap_or(0),
                    s / 2,
                    "blossom {b} with dual {z} is not full"
                );
            }
        }
    }

    fn solve_certified(n: usize, edges: &[Edge]) -> Vec<(u32, u32)> {
        let mut solver = Solver::new(n, edges);
        solver.run();
        certify(&solver);
        solver.pairs()
    }

    /// The best matching weight among vertices in `left` (a bit set), by trying everything.
    fn brute_force(left: u32, w: &[[i64; 10]; 10]) -> i64 {
        if left == 0 {
            return 0;
        }
        let i = left.trailing_zeros() as usize;
        let rest = left & !(1 << i);
        let mut best = brute_force(rest, w);
        let mut others = rest;
        while others != 0 {
            let j = others.trailing_zeros() as usize;
            others &= others - 1;
            if w[i][j] > 0 {
                best = best.max(w[i][j] + brute_force(rest & !(1 << j), w));
            }
        }
        best
    }

    fn assert_is_matching(n: usize, pairs: &[(u32, u32)]) {
        let mut seen = vec![false; n];
        for &(u, v) in pairs {
            assert!(u < v);
            assert!(!seen[u as usize] && !seen[v as usize], "vertex matched twice in {pairs:?}");
            seen[u as usize] = true;
            seen[v as usize] = true;
        }
        assert!(pairs.is_sorted());
    }

    #[test]
    fn equals_brute_force_on_small_random_graphs() {
        let mut rng = SplitMix64::new(7);
        for round in 0..4000 {
            let n = 1 + rng.below(10) as usize;
            let density = 1 + rng.below(100);
            // Few distinct weights make ties; the range reaches below zero.
            let spread = [3, 10, 1000][round % 3];
            let mut edges = Vec::new();
            let mut best = [[0i64; 10]; 10];
            for u in 0..n as u32 {
                for v in 0..n as u32 {
                    if u != v && rng.below(100) < density {
                        let w = rng.below(spread) as i64 - spread as i64 / 5;
                        edges.push((u, v, w));
                        let (a, b) = (u as usize, v as usize);
                        best[a][b] = best[a][b].max(w);
                        best[b][a] = best[a][b];
                    }
                }
            }
            if rng.below(4) == 0 {
                edges.push((0, 0, 50));
            }
            let pairs = solve_certified(n, &edges);
            assert_is_matching(n, &pairs);
            let expected = brute_force((1 << n) - 1, &best);
            assert_eq!(matching_weight(&edges, &pairs), expected, "round {round}: n = {n}, edges = {edges:?}");
            assert_eq!(pairs, max_weight_matching(n, &edges), "not deterministic");
        }
    }

    /// Dense graphs with few distinct weights make many nested blossoms, and T-blossoms that
    /// have to be expanded again; each solution must prove itself optimal.
    #[test]
    fn certifies_graphs_full_of_blossoms() {
        let mut rng = SplitMix64::new(3);
        for _ in 0..30 {
            let n = 40 + rng.below(120) as usize;
            let mut edges = Vec::new();
            for u in 0..n as u32 {
                for v in u + 1..n as u32 {
                    if rng.below(100) < 15 {
                        edges.push((u, v, 1 + rng.below(4) as i64));
                    }
                }
            }
            assert_is_matching(n, &solve_certified(n, &edges));
        }
    }

    /// The greatest (pairs, weight) among matchings of the vertices in `left`, pairs first.
    fn brute_force_pairs_first(left: u32, w: &[[i64; 10]; 10]) -> (usize, i64) {
        if left == 0 {
            return (0, 0);
        }
        let i = left.trailing_zeros() as usize;
        let rest = left & !(1 << i);
        let mut best = brute_force_pairs_first(rest, w);
        let mut others = rest;
        while others != 0 {
            let j = others.trailing_zeros() as usize;
            others &= others - 1;
            if w[i][j] > 0 {
                let (pairs, weight) = brute_force_pairs_first(rest & !(1 << j), w);
                best = best.max((pairs + 1, weight + w[i][j]));
            }
        }
        best
    }

    #[test]
    fn a_heavy_middle_pair_gives_way_to_two_pairs() {
        // a - b - c - d: b and c like each other best, but pairing them leaves a and d alone.
        let path = [(0, 1, 10), (1, 2, 90), (2, 3, 10)];
        assert_eq!(max_weight_matching(4, &path), vec![(1, 2)], "by weight alone the middle pair wins");
        let (lift, lifted) = cardinality_first(4, &path).expect("small weights");
        assert_eq!(lift, 2 * 90);
        assert_eq!(lifted, vec![(0, 1, 190), (1, 2, 270), (2, 3, 190)]);
        assert_eq!(solve_certified(4, &lifted), vec![(0, 1), (2, 3)]);
    }

    #[test]
    fn among_matchings_of_one_size_the_heavier_wins() {
        // A square a-b-c-d-a: two ways to make two pairs.
        let square = [(0, 1, 5), (1, 2, 1), (2, 3, 5), (3, 0, 1)];
        let (_, lifted) = cardinality_first(4, &square).expect("small weights");
        assert_eq!(solve_certified(4, &lifted), vec![(0, 1), (2, 3)]);
        let other_way = [(0, 1, 1), (1, 2, 5), (2, 3, 1), (3, 0, 5)];
        let (_, lifted) = cardinality_first(4, &other_way).expect("small weights");
        assert_eq!(solve_certified(4, &lifted), vec![(0, 3), (1, 2)]);
        // A fifth member e whom only a likes a lot: a-e and c-d are two pairs too, and heavier.
        let pendant = [(0, 1, 5), (1, 2, 1), (2, 3, 5), (3, 0, 1), (0, 4, 40)];
        let (_, lifted) = cardinality_first(5, &pendant).expect("small weights");
        assert_eq!(solve_certified(5, &lifted), vec![(0, 4), (2, 3)]);
    }

    #[test]
    fn lifted_weights_give_the_most_pairs_then_the_most_weight() {
        let mut rng = SplitMix64::new(11);
        for round in 0..3000 {
            let n = 1 + rng.below(10) as usize;
            let density = 1 + rng.below(100);
            let spread = [3, 100, 1000][round % 3];
            let mut edges = Vec::new();
            let mut best = [[0i64; 10]; 10];
            for u in 0..n as u32 {
                for v in u + 1..n as u32 {
                    if rng.below(100) < density {
                        let w = rng.below(spread) as i64 - spread as i64 / 5;
                        edges.push((u, v, w));
                        let (a, b) = (u as usize, v as usize);
                        best[a][b] = best[a][b].max(w);
                        best[b][a] = best[a][b];
                    }
                }
            }
            let (_, lifted) = cardinality_first(n, &edges).expect("small weights");
            let pairs = solve_certified(n, &lifted);
            assert_is_matching(n, &pairs);
            let expected = brute_force_pairs_first((1 << n) - 1, &best);
            assert_eq!((pairs.len(), matching_weight(&edges, &pairs)), expected, "round {round}: {edges:?}");
        }
    }

    #[test]
    fn lifted_weights_reach_the_maximum_cardinality_on_a_large_graph() {
        let edges = barabasi_albert(3000, 2, 5);
        let ones: Vec<Edge> = edges.iter().map(|&(u, v, _)| (u, v, 1)).collect();
        let most = solve_certified(3000, &ones).len();
        let (_, lifted) = cardinality_first(3000, &edges).expect("small weights");
        let pairs = solve_certified(3000, &lifted);
        assert_eq!(pairs.len(), most);
        assert!(max_weight_matching(3000, &edges).len() < most, "the graph is one where weight alone loses pairs");
    }

    #[test]
    fn lifting_refuses_weights_the_solver_cannot_take() {
        assert_eq!(cardinality_first(4, &[(0, 1, 1 << 57)]), None);
        assert_eq!(cardinality_first(0, &[]), Some((1, vec![])));
        assert_eq!(cardinality_first(3, &[(0, 1, -2), (1, 2, 0)]), Some((1, vec![])));
    }

    #[test]
    fn handles_graphs_without_edges() {
        assert_eq!(max_weight_matching(0, &[]), vec![]);
        assert_eq!(max_weight_matching(3, &[(1, 1, 5), (0, 2, 0), (2, 1, -3)]), vec![]);
    }

    #[test]
    fn certifies_a_barabasi_albert_graph() {
        let edges = barabasi_albert(2000, 6, 1);
        let pairs = solve_certified(2000, &edges);
        assert_is_matching(2000, &pairs);
    }

    #[test]
    fn parse_reports_bad_lines() {
        let (n, edges) = parse_edge_list("# a comment\n3 2\n0 1 5\n\n1 2 -4\n").expect("valid");
        assert_eq!((n, edges), (3, vec![(0, 1, 5), (1, 2, -4)]));
        let error = |text: &str| parse_edge_list(text).expect_err(text);
        assert!(error("").contains("empty"));
        assert!(error("3\n").contains("line 1"));
        assert!(error("3 1\n0 3 1\n").contains("line 2: vertex 3 is out of range"));
        assert!(error("3 1\n0 1 x\n").contains("line 2: weight \"x\""));
        assert!(error("3 1\n0 1 288230376151711745\n").contains("line 2: weight 288230376151711745 is above 2^58"));
        assert!(error("600000000 0\n").contains("line 1: vertex count \"600000000\""));
        assert!(error("3 2\n0 1 1\n0 -1 2\n").contains("line 3"));
        assert!(error("3 2\n0 1 1\n").contains("announces 2 edges"));
        assert!(error("3 1\n0 1\n").contains("line 2: expected \"u v w\""));
    }

    #[test]
    fn edge_lists_round_trip() {
        let edges = barabasi_albert(50, 3, 9);
        assert_eq!(parse_edge_list(&write_edge_list(50, &edges)), Ok((50, edges)));
    }

    #[test]
    fn barabasi_albert_is_fixed() {
        let edges = barabasi_albert(1000, 6, 42);
        assert_eq!(edges.len(), 21 + 993 * 6);
        assert_eq!(edges, barabasi_albert(1000, 6, 42));
        assert!(edges.iter().all(|&(u, v, w)| u < v && (1..=100).contains(&w)));
    }
}
