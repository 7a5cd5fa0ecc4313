//! A small policy-value network: an MLP on the flattened board planes (why an MLP: docs/rl.md).
//!
//! Dims: B = batch, I = 2·n² inputs, W = width, D = depth (hidden layers), A = n² actions.
//! Input, from the view of the player to move ("canonical"): plane 0 = own stones, plane 1 = the
//! opponent's. When White is to move the board is transposed, (r, c) → (c, r), which maps White's
//! left-right goal onto Black's top-bottom one, so the net only ever plays "connect top to bottom".
//! Layers: `h_1 = relu(W_0 x + b_0)` (I→W), `h_{l+1} = relu(W_l h_l + b_l)` (W→W, l < D), then two
//! heads on `h_D`: policy logits (W→A, masked softmax over the empty cells) and value
//! `tanh(w_v · h_D + b_v)`. Loss per position: cross-entropy of the policy against the search's
//! visit distribution plus the squared error of the value against the game's outcome, averaged
//! over the batch. Parameters live in one flat buffer (layer by layer: weight (out, in), bias (out)),
//! which Adam's moments mirror.
//!
//! FLOPs are counted exactly for the matmuls (2 per multiply-add) and bias adds, as pretraining
//! counts 2·N per token forward and 4·N backward; elementwise work (ReLU, tanh, softmax, loss) is
//! O(W) per layer against O(W²) and is not counted. Backward = the weight gradients (2·in·out) plus
//! bias gradients (out) for every layer, plus input gradients (2·in·out) for every layer but the
//! first (the board needs no gradient).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::hex::{Board, Move, Player};
use crate::mcts::Evaluator;
use crate::{Error, Result};

/// Shape of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetShape {
    /// Board side n.
    pub n: usize,
    /// Hidden width W.
    pub width: usize,
    /// Number of hidden layers D (≥ 1).
    pub depth: usize,
}

/// One dense layer's place in the flat buffer.
#[derive(Debug, Clone, Copy)]
struct Layer {
    inp: usize,
    out: usize,
    w: usize,
    b: usize,
}

impl NetShape {
    /// Checks the shape.
    pub fn validate(&self) -> Result<()> {
        if !(crate::hex::MIN_SIZE..=crate::hex::MAX_SIZE).contains(&self.n) {
            return Err(Error::BoardSize(self.n));
        }
        if self.width == 0 || self.width > 4096 || self.depth == 0 || self.depth > 16 {
            return Err(Error::Config(format!(
                "net width {} and depth {}: use width 1..=4096 and depth 1..=16",
                self.width, self.depth
            )));
        }
        Ok(())
    }

    fn inputs(&self) -> usize {
        2 * self.n * self.n
    }

    fn actions(&self) -> usize {
        self.n * self.n
    }

    /// Hidden layers, then the policy head, then the value head.
    fn layers(&self) -> Vec<Layer> {
        let mut dims = vec![(self.inputs(), self.width)];
        dims.extend((1..self.depth).map(|_| (self.width, self.width)));
        dims.push((self.width, self.actions()));
        dims.push((self.width, 1));
        let mut off = 0;
        dims.into_iter()
            .map(|(inp, out)| {
                let l = Layer {
                    inp,
                    out,
                    w: off,
                    b: off + inp * out,
                };
                off += inp * out + out;
                l
            })
            .collect()
    }

    /// Number of parameters.
    pub fn params(&self) -> usize {
        self.layers().iter().map(|l| l.inp * l.out + l.out).sum()
    }

    /// FLOPs of one position's forward pass.
    pub fn forward_flops(&self) -> u64 {
        self.layers()
            .iter()
            .map(|l| (2 * l.inp * l.out + l.out) as u64)
            .sum()
    }

    /// FLOPs of one position's backward pass.
    pub fn backward_flops(&self) -> u64 {
        let layers = self.layers();
        let weights_and_biases: u64 = layers
            .iter()
            .map(|l| (2 * l.inp * l.out + l.out) as u64)
            .sum();
        let inputs: u64 = layers[1..].iter().map(|l| (2 * l.inp * l.out) as u64).sum();
        weights_and_biases + inputs
    }
}

/// The network's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Net {
    /// Shape.
    pub shape: NetShape,
    /// Flat parameters (see the module docs for the layout).
    pub params: Vec<f32>,
}

/// One training example: canonical planes, target policy over canonical cells, outcome for the mover.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Example {
    /// 2·n² inputs.
    pub planes: Vec<f32>,
    /// n² target probabilities (0 on occupied cells).
    pub policy: Vec<f32>,
    /// +1 if the player to move went on to win, -1 otherwise.
    pub z: f32,
}

/// Canonical cell of board cell `i` for player `p` (transpose for White); an involution.
pub fn canonical_cell(n: usize, p: Player, i: usize) -> usize {
    match p {
        Player::Black => i,
        Player::White => (i % n) * n + i / n,
    }
}

/// Canonical input planes of a position.
pub fn planes(board: &Board) -> Vec<f32> {
    let n = board.size();
    let me = board.to_move();
    let mut x = vec![0.0; 2 * n * n];
    for i in 0..n * n {
        if let Some(p) = board.cell(i) {
            let k = canonical_cell(n, me, i);
            x[if p == me { k } else { n * n + k }] = 1.0;
        }
    }
    x
}

/// Saved activations of a batch forward pass.
struct Acts {
    /// hidden[l] = h_{l+1}, (B, W) after ReLU.
    hidden: Vec<Vec<f32>>,
    /// (B, A) policy probabilities after the masked softmax.
    probs: Vec<f32>,
    /// (B) tanh values.
    values: Vec<f32>,
}

fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    // Box–Muller.
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// y (out) = W (out, in) · x (in) + b.
fn dense(y: &mut [f32], x: &[f32], p: &[f32], l: &Layer) {
    let w = &p[l.w..l.w + l.inp * l.out];
    let b = &p[l.b..l.b + l.out];
    for o in 0..l.out {
        let row = &w[o * l.inp..(o + 1) * l.inp];
        let mut s = b[o];
        for k in 0..l.inp {
            s += row[k] * x[k];
        }
        y[o] = s;
    }
}

impl Net {
    /// A new network: He-normal hidden weights (std sqrt(2/in)), heads std sqrt(1/in), zero biases.
    pub fn new(shape: NetShape, seed: u64) -> Result<Net> {
        use rand::SeedableRng;
        shape.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut params = vec![0.0; shape.params()];
        let layers = shape.layers();
        for (li, l) in layers.iter().enumerate() {
            let head = li >= layers.len() - 2;
            let std = if head {
                (1.0 / l.inp as f32).sqrt()
            } else {
                (2.0 / l.inp as f32).sqrt()
            };
            for v in &mut params[l.w..l.w + l.inp * l.out] {
                *v = std * gaussian(&mut rng);
            }
        }
        Ok(Net { shape, params })
    }

    /// Forward pass of a batch; `masks[b·A + a]` is true for legal canonical cells.
    fn forward(&self, x: &[f32], masks: &[bool]) -> Acts {
        let s = &self.shape;
        let (inp, a) = (s.inputs(), s.actions());
        let bsz = x.len() / inp;
        assert_eq!(x.len(), bsz * inp);
        assert_eq!(masks.len(), bsz * a);
        let layers = s.layers();
        let mut hidden: Vec<Vec<f32>> = Vec::with_capacity(s.depth);
        for (li, l) in layers[..s.depth].iter().enumerate() {
            let mut h = vec![0.0; bsz * l.out];
            for bi in 0..bsz {
                let xin = if li == 0 {
                    &x[bi * inp..(bi + 1) * inp]
                } else {
                    &hidden[li - 1][bi * l.inp..(bi + 1) * l.inp]
                };
                let y = &mut h[bi * l.out..(bi + 1) * l.out];
                dense(y, xin, &self.params, l);
                for v in y.iter_mut() {
                    *v = v.max(0.0);
                }
            }
            hidden.push(h);
        }
        let (pl, vl) = (&layers[s.depth], &layers[s.depth + 1]);
        let last = &hidden[s.depth - 1];
        let mut probs = vec![0.0; bsz * a];
        let mut values = vec![0.0; bsz];
        let mut vout = [0.0f32];
        for bi in 0..bsz {
            let h = &last[bi * s.width..(bi + 1) * s.width];
            let p = &mut probs[bi * a..(bi + 1) * a];
            dense(p, h, &self.params, pl);
            let m = &masks[bi * a..(bi + 1) * a];
            let mx = p
                .iter()
                .zip(m)
                .filter(|(_, &ok)| ok)
                .map(|(v, _)| *v)
                .fold(f32::NEG_INFINITY, f32::max);
            let mut z = 0.0;
            for (v, &ok) in p.iter_mut().zip(m) {
                *v = if ok { (*v - mx).exp() } else { 0.0 };
                z += *v;
            }
            for v in p.iter_mut() {
                *v /= z;
            }
            dense(&mut vout, h, &self.params, vl);
            values[bi] = vout[0].tanh();
        }
        Acts {
            hidden,
            probs,
            values,
        }
    }

    /// Priors over canonical cells (0 on occupied ones) and the value for the player to move.
    pub fn predict(&self, board: &Board) -> (Vec<f32>, f32) {
        let n = self.shape.n;
        let me = board.to_move();
        let mut mask = vec![false; n * n];
        for i in 0..n * n {
            if board.cell(i).is_none() {
                mask[canonical_cell(n, me, i)] = true;
            }
        }
        let acts = self.forward(&planes(board), &mask);
        (acts.probs, acts.values[0])
    }

    /// Mean loss of a batch and, added (`+=`) into `grads`, its gradient. Returns (policy CE, value MSE).
    pub fn loss_and_grad(&self, batch: &[&Example], grads: &mut [f32]) -> (f64, f64) {
        let s = &self.shape;
        let (inp, a, wd) = (s.inputs(), s.actions(), s.width);
        assert_eq!(grads.len(), self.params.len());
        let bsz = batch.len();
        let mut x = Vec::with_capacity(bsz * inp);
        let mut masks = Vec::with_capacity(bsz * a);
        for e in batch {
            assert_eq!(e.planes.len(), inp);
            x.extend_from_slice(&e.planes);
            masks.extend((0..a).map(|k| e.planes[k] == 0.0 && e.planes[a + k] == 0.0));
        }
        let acts = self.forward(&x, &masks);
        let layers = s.layers();
        let (pl, vl) = (layers[s.depth], layers[s.depth + 1]);
        let inv_b = 1.0 / bsz as f32;
        let (mut ce, mut mse) = (0.0f64, 0.0f64);
        let mut dh = vec![0.0f32; bsz * wd];
        let last = &acts.hidden[s.depth - 1];
        for (bi, e) in batch.iter().enumerate() {
            let p = &acts.probs[bi * a..(bi + 1) * a];
            let h = &last[bi * wd..(bi + 1) * wd];
            let dhb = &mut dh[bi * wd..(bi + 1) * wd];
            // loss = -Σ π log p: dlogit = (p - π) / B on legal cells.
            for k in 0..a {
                if e.policy[k] > 0.0 {
                    ce -= (e.policy[k] as f64) * (p[k].max(1e-30) as f64).ln();
                }
                let d = (p[k] - e.policy[k]) * inv_b;
                if d == 0.0 {
                    continue;
                }
                grads[pl.b + k] += d;
                let row = pl.w + k * wd;
                for j in 0..wd {
                    grads[row + j] += d * h[j];
                    dhb[j] += d * self.params[row + j];
                }
            }
            // loss = (z - tanh(u))²: du = 2 (tanh(u) - z)(1 - tanh²(u)) / B.
            let v = acts.values[bi];
            mse += ((e.z - v) as f64).powi(2);
            let du = 2.0 * (v - e.z) * (1.0 - v * v) * inv_b;
            grads[vl.b] += du;
            for j in 0..wd {
                grads[vl.w + j] += du * h[j];
                dhb[j] += du * self.params[vl.w + j];
            }
        }
        // Hidden layers, last to first: h = relu(W hin + b).
        for li in (0..s.depth).rev() {
            let l = layers[li];
            let h = &acts.hidden[li];
            let mut dprev = if li > 0 {
                vec![0.0f32; bsz * l.inp]
            } else {
                Vec::new()
            };
            for bi in 0..bsz {
                let hin = if li == 0 {
                    &x[bi * inp..(bi + 1) * inp]
                } else {
                    &acts.hidden[li - 1][bi * l.inp..(bi + 1) * l.inp]
                };
                for o in 0..l.out {
                    if h[bi * l.out + o] <= 0.0 {
                        continue;
                    }
                    let d = dh[bi * l.out + o];
                    grads[l.b + o] += d;
                    let row = l.w + o * l.inp;
                    for k in 0..l.inp {
                        grads[row + k] += d * hin[k];
                    }
                    if li > 0 {
                        let dp = &mut dprev[bi * l.inp..(bi + 1) * l.inp];
                        for (dpk, wk) in dp.iter_mut().zip(&self.params[row..row + l.inp]) {
                            *dpk += d * wk;
                        }
                    }
                }
            }
            dh = dprev;
        }
        (ce / bsz as f64, mse / bsz as f64)
    }
}

/// Adam (Kingma & Ba 2015) over the flat buffer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    t: u64,
}

impl Adam {
    /// β1 = 0.9, β2 = 0.999, ε = 1e-8.
    pub fn new(len: usize, lr: f32) -> Adam {
        Adam {
            lr,
            m: vec![0.0; len],
            v: vec![0.0; len],
            t: 0,
        }
    }

    /// One update with bias correction.
    pub fn step(&mut self, params: &mut [f32], grads: &[f32]) {
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        self.t += 1;
        let c1 = 1.0 - b1.powi(self.t as i32);
        let c2 = 1.0 - b2.powi(self.t as i32);
        for i in 0..params.len() {
            self.m[i] = b1 * self.m[i] + (1.0 - b1) * grads[i];
            self.v[i] = b2 * self.v[i] + (1.0 - b2) * grads[i] * grads[i];
            params[i] -= self.lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + eps);
        }
    }
}

/// MCTS evaluator backed by a network; counts the forward FLOPs it spends.
pub struct NetEvaluator<'a> {
    net: &'a Net,
    /// Forward FLOPs spent so far.
    pub flops: u64,
}

impl<'a> NetEvaluator<'a> {
    /// Wraps a network.
    pub fn new(net: &'a Net) -> Self {
        NetEvaluator { net, flops: 0 }
    }
}

impl Evaluator for NetEvaluator<'_> {
    fn evaluate(
        &mut self,
        board: &Board,
        moves: &[Move],
        _rng: &mut ChaCha8Rng,
    ) -> (Vec<f32>, f32) {
        let (probs, v) = self.net.predict(board);
        self.flops += self.net.shape.forward_flops();
        let n = board.size();
        let me = board.to_move();
        let mut pri: Vec<f32> = moves
            .iter()
            .map(|&m| {
                if m < n * n {
                    probs[canonical_cell(n, me, m)]
                } else {
                    0.0
                }
            })
            .collect();
        let z: f32 = pri.iter().sum();
        if z > 0.0 {
            pri.iter_mut().for_each(|p| *p /= z);
        } else {
            let u = 1.0 / moves.len() as f32;
            pri.iter_mut().for_each(|p| *p = u);
        }
        (pri, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn random_examples(n: usize, count: usize, seed: u64) -> Vec<Example> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..count)
            .map(|_| {
                let mut b = Board::new(n, false).unwrap();
                let k = rng.random_range(0..n * n / 2);
                for _ in 0..k {
                    let ms = b.legal_moves();
                    if ms.is_empty() {
                        break;
                    }
                    b.play(ms[rng.random_range(0..ms.len())]).unwrap();
                }
                let x = planes(&b);
                let mut pol = vec![0.0; n * n];
                let legal: Vec<usize> = (0..n * n)
                    .filter(|&c| x[c] == 0.0 && x[n * n + c] == 0.0)
                    .collect();
                let mut tot = 0.0;
                for &c in &legal {
                    pol[c] = rng.random::<f32>();
                    tot += pol[c];
                }
                pol.iter_mut().for_each(|p| *p /= tot);
                Example {
                    planes: x,
                    policy: pol,
                    z: if rng.random::<bool>() { 1.0 } else { -1.0 },
                }
            })
            .collect()
    }

    #[test]
    fn backward_matches_finite_differences() {
        let shape = NetShape {
            n: 3,
            width: 8,
            depth: 2,
        };
        let mut net = Net::new(shape, 1).unwrap();
        // Biases start at 0, so an empty board sits exactly on every first-layer ReLU kink, where
        // finite differences are wrong: move them off it.
        for l in shape.layers() {
            for (o, b) in net.params[l.b..l.b + l.out].iter_mut().enumerate() {
                *b = 0.05 + 0.01 * o as f32;
            }
        }
        let ex = random_examples(3, 5, 2);
        let batch: Vec<&Example> = ex.iter().collect();
        let mut g = vec![0.0; net.params.len()];
        net.loss_and_grad(&batch, &mut g);
        let loss = |p: &[f32]| {
            let t = Net {
                shape,
                params: p.to_vec(),
            };
            let mut scratch = vec![0.0; p.len()];
            let (ce, mse) = t.loss_and_grad(&batch, &mut scratch);
            ce + mse
        };
        let eps = 1e-3f32;
        let base = loss(&net.params);
        let (mut checked, mut kinks) = (0, 0);
        for i in 0..net.params.len() {
            let mut p = net.params.clone();
            p[i] += eps;
            let up = loss(&p);
            p[i] -= 2.0 * eps;
            let down = loss(&p);
            // A ReLU kink inside [θ-ε, θ+ε] makes the two one-sided slopes differ: skip those.
            let (right, left) = ((up - base) / eps as f64, (base - down) / eps as f64);
            if (right - left).abs() > 1e-2 * (1.0 + right.abs()) {
                kinks += 1;
                continue;
            }
            let fd = (up - down) / (2.0 * eps as f64);
            let err = (fd - g[i] as f64).abs();
            assert!(
                err < 2e-3 + 2e-2 * fd.abs(),
                "param {i}: analytic {} vs finite difference {fd}",
                g[i]
            );
            checked += 1;
        }
        assert!(kinks <= 3, "{kinks} parameters straddle a kink");
        assert!(checked > 300);
    }

    #[test]
    fn grads_accumulate() {
        let shape = NetShape {
            n: 3,
            width: 4,
            depth: 1,
        };
        let net = Net::new(shape, 3).unwrap();
        let ex = random_examples(3, 2, 4);
        let batch: Vec<&Example> = ex.iter().collect();
        let mut g1 = vec![0.0; net.params.len()];
        net.loss_and_grad(&batch, &mut g1);
        let mut g2 = g1.clone();
        net.loss_and_grad(&batch, &mut g2);
        for (a, b) in g1.iter().zip(&g2) {
            assert!((2.0 * a - b).abs() <= 1e-6 * a.abs().max(1.0));
        }
    }

    #[test]
    fn flop_counts_by_hand() {
        // n = 3, W = 8, D = 2: layers 18→8, 8→8, heads 8→9 and 8→1.
        let s = NetShape {
            n: 3,
            width: 8,
            depth: 2,
        };
        assert_eq!(s.params(), 18 * 8 + 8 + 8 * 8 + 8 + 8 * 9 + 9 + 8 + 1);
        let fwd = 2 * (18 * 8 + 64 + 72 + 8) + (8 + 8 + 9 + 1);
        assert_eq!(s.forward_flops(), fwd as u64);
        assert_eq!(s.backward_flops(), (fwd + 2 * (64 + 72 + 8)) as u64);
        // Weight-dominated limit: forward ≈ 2·params, backward ≈ 4·params.
        let big = NetShape {
            n: 5,
            width: 256,
            depth: 4,
        };
        let r = big.backward_flops() as f64 / big.params() as f64;
        assert!((r - 4.0).abs() < 0.2, "{r}");
    }

    #[test]
    fn adam_fits_a_fixed_batch() {
        let shape = NetShape {
            n: 3,
            width: 16,
            depth: 1,
        };
        let mut net = Net::new(shape, 5).unwrap();
        let ex = random_examples(3, 8, 6);
        let batch: Vec<&Example> = ex.iter().collect();
        let mut opt = Adam::new(net.params.len(), 1e-2);
        let mut g = vec![0.0; net.params.len()];
        let (ce0, mse0) = net.loss_and_grad(&batch, &mut g);
        for _ in 0..300 {
            g.iter_mut().for_each(|x| *x = 0.0);
            net.loss_and_grad(&batch, &mut g);
            opt.step(&mut net.params, &g);
        }
        let (ce1, mse1) = net.loss_and_grad(&batch, &mut g);
        assert!(mse1 < 0.05 * mse0.max(0.1), "value loss {mse0} -> {mse1}");
        assert!(ce1 < ce0, "policy loss {ce0} -> {ce1}");
    }

    #[test]
    fn transposition_makes_the_colours_symmetric() {
        // White to move sees Black's b1 = (0, 1) transposed to (1, 0) = index 4, as the opponent.
        let x = Board::from_moves(4, false, &["b1"]).unwrap(); // White to move; Black b1 = (0,1)
        let p = planes(&x);
        // Opponent stone at canonical (1,0) = index 4.
        assert_eq!(p[16 + 4], 1.0);
        assert_eq!(p.iter().sum::<f32>(), 1.0);
    }
}
