# PyTorch peer of bench/train-speed.ts: the same models, the same initial
# parameters, the same minibatches (and dropout masks) as the generated
# trainers, written as a PyTorch user tunes them on a CPU: two intra-op
# threads (torch.set_num_threads(2), the machine's two cores) with OpenBLAS
# on one and glibc's malloc kept from unmapping (bench/peers/torch.ts), the library's
# fused modules where the model is one (nn.LSTM over packed sequences,
# F.conv2d through oneDNN), foreach optimizers, no autograd on updates.
#
# Run by bench/peers/torch.ts, never by a test:
#   python3 torch_peer.py INPUTS.bin REQUEST.json
# INPUTS.bin: a little-endian u32 header length, a JSON header
# ({"kind", "model", "tensors": [{name, dtype, shape, offset}]}) and the raw
# tensors. The timing (warm-up, plan, timed repeats) mirrors
# bench/measure.ts's, and every event goes to stdout as one JSON line in
# measure.ts's MeasureEvent shapes, which torch.ts forwards to the harness.
import json
import os
import struct
import sys
import threading
import time

import numpy as np
import torch
import torch.nn.functional as F

WARMUP_STEPS = 3
WARMUP_SECONDS = 1.0
WARMUP_SHARE = 0.3


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def read_inputs(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<I", raw, 0)
    header = json.loads(raw[4 : 4 + n].decode("utf8"))
    base = 4 + n
    tensors = {}
    for t in header["tensors"]:
        dtype = {"f32": np.float32, "i32": np.int32}[t["dtype"]]
        count = int(np.prod(t["shape"])) if t["shape"] else 1
        arr = np.frombuffer(raw, dtype=dtype, count=count, offset=base + t["offset"]).reshape(t["shape"])
        tensors[t["name"]] = torch.from_numpy(arr.copy())
    return header, tensors


def update(opt, cost):
    """One optimizer step on the cost's gradient (grads freed, not zeroed)."""
    opt.zero_grad(set_to_none=True)
    cost.backward()
    opt.step()


def flip(w):
    """Theano's conv2d is a true convolution, torch's conv2d correlates."""
    return torch.flip(w, dims=[2, 3]).contiguous()


def mnist_runner(model, t):
    name = model["name"]
    p = {k[len("param/"):]: v.clone().requires_grad_(True) for k, v in t.items() if k.startswith("param/")}
    if name == "lenet":
        p["W1"] = flip(p["W1"].detach()).requires_grad_(True)
        p["W2"] = flip(p["W2"].detach()).requires_grad_(True)
        p["b1"] = p["b1"].detach().reshape(1, -1, 1, 1).clone().requires_grad_(True)
        p["b2"] = p["b2"].detach().reshape(1, -1, 1, 1).clone().requires_grad_(True)
    xs = [t[k] for k in sorted((k for k in t if k.startswith("x/")), key=lambda s: int(s[2:]))]
    ys = [t[k].long() for k in sorted((k for k in t if k.startswith("y/")), key=lambda s: int(s[2:]))]
    B = model["batchSize"]

    def forward(x):
        if name == "logreg":
            return x @ p["W"] + p["b"]
        if name == "mlp":
            return torch.tanh(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        if name == "sda":  # the fine-tuning net (its params only: the harness leaves the dAs' visible biases out)
            h1 = torch.sigmoid(x @ p["W1"] + p["b1"])
            h2 = torch.sigmoid(h1 @ p["W2"] + p["b2"])
            h3 = torch.sigmoid(h2 @ p["W3"] + p["b3"])
            return h3 @ p["W4"] + p["b4"]
        img = x.reshape(B, 1, 28, 28)
        c1 = torch.tanh(F.max_pool2d(F.conv2d(img, p["W1"]), 2) + p["b1"])
        c2 = torch.tanh(F.max_pool2d(F.conv2d(c1, p["W2"]), 2) + p["b2"])
        h = torch.tanh(c2.reshape(B, 800) @ p["W3"] + p["b3"])
        return h @ p["W4"] + p["b4"]

    params = list(p.values())
    opt = torch.optim.SGD(params, lr=model["lr"], foreach=True)
    k = [0]

    def step():
        x, y = xs[k[0] % len(xs)], ys[k[0] % len(ys)]
        k[0] += 1
        cost = F.cross_entropy(forward(x), y)
        if model["l2"]:
            cost = cost + model["l2"] * sum((p[n] ** 2).sum() for n in model["l2Params"])
        if model["l1"]:
            cost = cost + model["l1"] * sum(p[n].abs().sum() for n in model["l1Params"])
        update(opt, cost)
        return cost.item()

    return step, 1, "mnist: plain tensors and autograd, F.conv2d/max_pool2d, torch.optim.SGD(foreach=True)"


def lstm_runner(model, t):
    H, D = model["hidden"], model["dim"]
    n = model["batches"]
    lstm = torch.nn.LSTM(D, H)
    # Ours: columns [i f o g] of x·W (W [D, 4H]); torch: rows [i f g o] of W_ih [4H, D].
    order = torch.cat([torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)])
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(t["param/lstm_W"].t()[order])
        lstm.weight_hh_l0.copy_(t["param/lstm_U"].t()[order])
        lstm.bias_ih_l0.copy_(t["param/lstm_b"][order])
        lstm.bias_hh_l0.zero_()
    # One bias, as the spec: torch's second bias stays zero and untrained.
    lstm.bias_hh_l0.requires_grad_(False)
    Wemb = t["param/Wemb"].clone().requires_grad_(True)
    U = t["param/U"].clone().requires_grad_(True)
    b = t["param/b"].clone().requires_grad_(True)
    params = [Wemb, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, U, b]
    opt = torch.optim.Adadelta(params, lr=1.0, rho=model["rho"], eps=model["eps"], foreach=True)
    L = model["maxLength"]
    batches = []
    for i in range(n):
        steps = int(t[f"steps/{i}"].item())
        words = t[f"words/{i}"].reshape(-1, L)[:, :steps].t().long().contiguous()  # [T, B]
        length = t[f"length/{i}"].long()
        # The embeddings' dropout keep mask / (1 - p), [T, B, D] (ones without it).
        batches.append((words, length, t[f"keep/{i}"].reshape(-1, H), t[f"label/{i}"].long(), t[f"emb/{i}"]))
    scale = 1.0 / (1.0 - model["dropout"])
    k = [0]

    def step():
        words, length, keep, label, emb_keep = batches[k[0] % n]
        k[0] += 1
        x = F.embedding(words, Wemb) * emb_keep
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, length, enforce_sorted=False)
        out, _ = lstm(packed)
        hs, _ = torch.nn.utils.rnn.pad_packed_sequence(out)  # zeros past each sentence's end
        proj = hs.sum(0) / length.unsqueeze(1).to(hs.dtype)
        cost = F.cross_entropy((proj * keep * scale) @ U + b, label)
        update(opt, cost)
        return cost.item()

    return step, n, "lstm: nn.LSTM over packed sequences (gates reordered, the hidden bias frozen at 0), F.embedding, torch.optim.Adadelta(foreach=True)"


def rnn_runner(model, t):
    """rnnslu (bench/peers/rnn.ts): one sentence a step, the recurrence a
    Python loop over its words (nn.RNN has no sigmoid), the input
    projection of all its words in one product before the loop."""
    names = ["emb", "Wx", "Wh", "W", "bh", "b", "h0"]
    p = {n: t[f"param/{n}"].clone().requires_grad_(True) for n in names}
    n = model["sentences"]
    cs, dim = model["window"], model["dim"]
    sentences = [(t[f"words/{i}"].long(), t[f"labels/{i}"].long()) for i in range(n)]
    opt = torch.optim.SGD(list(p.values()), lr=model["lr"], foreach=True)
    emb, Wx, Wh, W, bh, b, h0 = (p[k] for k in names)
    k = [0]

    def step():
        words, labels = sentences[k[0] % n]
        k[0] += 1
        L = labels.shape[0]
        rows = F.embedding(words, emb).reshape(L, cs * dim) @ Wx + bh
        h = h0
        states = []
        for i in range(L):
            h = torch.sigmoid(rows[i : i + 1] + h @ Wh)
            states.append(h)
        cost = F.cross_entropy(torch.cat(states) @ W + b, labels)  # the mean over the words
        update(opt, cost)
        with torch.no_grad():  # the spec's after_update: rows to unit length
            emb.div_(emb.norm(dim=1, keepdim=True))
        return cost.item()

    return step, n, "rnnslu: a Python loop over the words, F.embedding, torch.optim.SGD(foreach=True) + the row normalisation in place"


def rnnrbm_runner(model, t):
    """rnnrbm (bench/peers/rnnrbm.ts): the RNN a Python loop over the
    piece's frames, CD-15 under no_grad (rnnrbm.py's consider_constant) with
    the uniforms our trainer draws, the free-energy cost through autograd."""
    names = ["W", "bv", "bh", "Wuh", "Wuv", "Wvu", "Wuu", "bu"]
    p = {n: t[f"param/{n}"].clone().requires_grad_(True) for n in names}
    W, bv, bh, Wuh, Wuv, Wvu, Wuu, bu = (p[k] for k in names)
    n = model["pieces"]
    R, K = model["recurrent"], model["gibbs"]
    pieces = [(t[f"v/{i}"], t[f"uh/{i}"], t[f"uv/{i}"], t[f"um/{i}"]) for i in range(n)]
    opt = torch.optim.SGD(list(p.values()), lr=model["lr"], foreach=True)
    k = [0]

    def free_energy(x, bv_all, bh_all):
        return -(x * bv_all).sum(1) - F.softplus(x @ W + bh_all).sum(1)

    def step():
        v, uh, uv, um = pieces[k[0] % n]
        k[0] += 1
        L = v.shape[0]
        vu = v @ Wvu
        u = torch.zeros(1, R)
        bvs, bhs = [], []
        for i in range(L):  # u is u_{t-1}: it sets frame t's biases
            bvs.append(bv + u @ Wuv)
            bhs.append(bh + u @ Wuh)
            u = torch.tanh(bu + vu[i : i + 1] + u @ Wuu)
        bv_all, bh_all = torch.cat(bvs), torch.cat(bhs)
        with torch.no_grad():
            Wc, bvc, bhc = W.detach(), bv_all.detach(), bh_all.detach()
            vk = v
            for g in range(K):
                h = (uh[g] < torch.sigmoid(vk @ Wc + bhc)).float()
                vk = (uv[g] < torch.sigmoid(h @ Wc.t() + bvc)).float()
            a = (um < torch.sigmoid(vk @ Wc + bhc)).float() @ Wc.t() + bvc
            monitor = -(v * F.softplus(-a) + (1 - v) * F.softplus(a)).sum() / L
        cost = (free_energy(v, bv_all, bh_all) - free_energy(vk, bv_all, bh_all)).sum() / L
        update(opt, cost)
        return monitor.item()

    return step, n, "rnnrbm: the RNN a Python loop over the frames, CD-15 under torch.no_grad on all frames at once, torch.optim.SGD(foreach=True)"


def extra_runner(model, t):
    """da, dnn, rbm, dbn and newmu_convnet (bench/peers/mnist-extra.ts): the
    random ops applied with the uniforms our trainer draws at that step."""
    name, n = model["name"], model["batches"]
    p = {k[len("param/"):]: v.clone().requires_grad_(True) for k, v in t.items() if k.startswith("param/")}
    salts = [d["salt"] for d in model["draws"]]
    keeps = [d.get("keep") for d in model["draws"]]
    B = model["batchSize"]
    batches = []
    for i in range(n):
        if name in ("rbm", "dbn"):  # the uniforms themselves, [iters, B, units]: the probabilities are computed
            masks = [t[f"u/{i}/{s}"].reshape(-1, B, d["size"] // B) for s, d in zip(salts, model["draws"])]
        else:  # [U < keep] as 0/1 floats, the mask shaped as what it multiplies
            masks = [(t[f"u/{i}/{s}"] < k).float().reshape(B, -1) for s, k in zip(salts, keeps)]
        batches.append((t[f"x/{i}"], t[f"y/{i}"].long(), masks))
    params = list(p.values())
    if name == "rbm":
        W, hbias, vbias = p["W"], p["hbias"], p["vbias"]
        opt = torch.optim.SGD(params, lr=model["lr"], foreach=True)
        chain = [torch.zeros(B, W.shape[1])]  # the persistent chain's hidden units
        step_no = [0]

        def free_energy(v):
            return -(v * vbias).sum(1) - F.softplus(v @ W + hbias).sum(1)

        def cost_of(x, _y, masks):
            with torch.no_grad():  # PCD-15 on constants (rbm.py's consider_constant)
                h = chain[0]
                for g in range(masks[0].shape[0]):
                    v = (masks[0][g] < torch.sigmoid(h @ W.t() + vbias)).float()
                    h = (masks[1][g] < torch.sigmoid(v @ W + hbias)).float()
                chain[0] = h
                # The reported figure: the pseudo-likelihood with bit (step mod 784) flipped.
                xi = (x > 0.5).float()
                flip = xi.clone()
                j = step_no[0] % 784
                flip[:, j] = 1 - flip[:, j]
                step_no[0] += 1
                cost_of.report = (784 * torch.log(torch.sigmoid(free_energy(flip) - free_energy(xi)))).mean().item()
            return free_energy(x).mean() - free_energy(v).mean()

        how = "rbm: PCD-15 under torch.no_grad with our trainer's uniforms, torch.optim.SGD(foreach=True); the step returns the pseudo-likelihood"
    elif name == "dbn":
        W, hb, vb = p["W1"], p["b1"], p["vb1"]
        opt = torch.optim.SGD([W, hb, vb], lr=model["lr"], foreach=True)

        def free_energy(v):
            return -(v * vb).sum(1) - F.softplus(v @ W + hb).sum(1)

        def cost_of(x, _y, masks):
            with torch.no_grad():  # CD-1 on constants (DBN.py's RBM, stop_gradient)
                h = torch.sigmoid(x @ W + hb)
                v = (masks[0][0] < h).float() @ W.t() + vb
                end = (masks[1][0] < torch.sigmoid(v)).float()
                cost_of.report = (x * F.softplus(-v) + (1 - x) * F.softplus(v)).sum(1).mean().item()
            return free_energy(x).mean() - free_energy(end).mean()

        how = "dbn: the first RBM's CD-1 under torch.no_grad with our trainer's uniforms, torch.optim.SGD(foreach=True); the step returns the reconstruction cross-entropy"
    elif name == "newmu_convnet":
        for k in ("w", "w2", "w3"):
            p[k] = flip(p[k].detach()).requires_grad_(True)
        params = list(p.values())
        w, w2, w3, w4, wo = (p[k] for k in ["w", "w2", "w3", "w4", "w_o"])
        lr, rho, eps = model["lr"], model["rho"], model["eps"]
        accs = [torch.zeros_like(q) for q in params]

        class Rmsprop:
            """Newmu's RMSprop (acc ← ρ·acc + (1−ρ)·g², p ← p − lr·g/√(acc + ε)):
            torch.optim.RMSprop adds ε outside the square root."""

            def zero_grad(self, set_to_none=True):
                for q in params:
                    q.grad = None

            def step(self):
                with torch.no_grad():
                    grads = [q.grad for q in params]
                    torch._foreach_mul_(accs, rho)
                    torch._foreach_addcmul_(accs, grads, grads, value=1 - rho)
                    denom = torch._foreach_add(accs, eps)
                    torch._foreach_sqrt_(denom)
                    torch._foreach_addcdiv_(params, grads, denom, value=-lr)

        opt = Rmsprop()

        def cost_of(x, y, masks):
            img = x.reshape(B, 1, 28, 28)
            l1 = F.max_pool2d(F.relu(F.conv2d(img, w, padding=2)), 2, ceil_mode=True) * masks[0].reshape(B, 32, 15, 15) / keeps[0]
            l2 = F.max_pool2d(F.relu(F.conv2d(l1, w2)), 2, ceil_mode=True) * masks[1].reshape(B, 64, 7, 7) / keeps[1]
            l3 = F.max_pool2d(F.relu(F.conv2d(l2, w3)), 2, ceil_mode=True).reshape(B, 1152) * masks[2] / keeps[2]
            l4 = F.relu(l3 @ w4) * masks[3] / keeps[3]
            return F.cross_entropy(l4 @ wo, y)

        how = "newmu_convnet: F.conv2d (the full convolution as padding 2, filters flipped), F.max_pool2d(ceil_mode=True), dropout by the handed masks, Newmu's RMSprop with torch._foreach ops"
    elif name == "da":
        W, b, bp = p["W"], p["b"], p["b_prime"]
        opt = torch.optim.SGD(params, lr=model["lr"], foreach=True)

        def cost_of(x, _y, masks):
            z = torch.sigmoid(torch.sigmoid((x * masks[0]) @ W + b) @ W.t() + bp)
            return -(x * torch.log(z) + (1 - x) * torch.log(1 - z)).sum() / B

        how = "da: tied weights (W and W.t()), torch.optim.SGD(foreach=True)"
    else:
        W1, b1, W2, b2, W3, b3 = (p[k] for k in ["W1", "b1", "W2", "b2", "W3", "b3"])
        opt = torch.optim.Adadelta(params, lr=1.0, rho=model["rho"], eps=model["eps"], foreach=True)
        l2 = model["l2"]

        def cost_of(x, y, masks):
            h1 = torch.relu((x * masks[0] / keeps[0]) @ W1 + b1) * masks[1] / keeps[1]
            h2 = torch.relu(h1 @ W2 + b2) * masks[2] / keeps[2]
            nll = F.cross_entropy(h2 @ W3 + b3, y, reduction="sum")
            return nll + l2 * ((W1 ** 2).sum() + (W2 ** 2).sum() + (W3 ** 2).sum())

        how = "dnn: dropout by the handed masks, torch.optim.Adadelta(foreach=True)"
    k = [0]

    def step():
        x, y, masks = batches[k[0] % n]
        k[0] += 1
        cost = cost_of(x, y, masks)
        update(opt, cost)
        return cost_of.report if name in ("rbm", "dbn") else cost.item()

    return step, 1, how


RUNNERS = {"mnist": mnist_runner, "lstm": lstm_runner, "rnn": rnn_runner, "rnnrbm": rnnrbm_runner, "extra": extra_runner}


def main():
    # The harness kills the Node process that runs this one at its time
    # limit; stdin then closes, and this process must not outlive it.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(1)), daemon=True).start()
    header, tensors = read_inputs(sys.argv[1])
    req = json.loads(open(sys.argv[2]).read())
    torch.set_num_threads(int(os.environ.get("DLT_TORCH_THREADS", "2")))
    t0 = time.perf_counter()
    elapsed = lambda: time.perf_counter() - t0
    model = header["model"]
    tp = time.perf_counter()
    step, cycle, how = RUNNERS[header["kind"]](model, tensors)
    emit({"kind": "ready", "prepareMs": (time.perf_counter() - tp) * 1000})
    emit({
        "kind": "note",
        "text": f"torch: PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"BLAS {'OpenBLAS' if 'openblas' in open('/proc/self/maps').read().lower() else 'not OpenBLAS (see docs/performance.md)'}"
        f"{', oneDNN' if torch.backends.mkldnn.is_available() else ''}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
        f"GLIBC_TUNABLES={'set' if os.environ.get('GLIBC_TUNABLES') else 'unset'}; {how}",
    })
    warm = []
    start = elapsed()
    while len(warm) < max(WARMUP_STEPS, cycle) or elapsed() - start < WARMUP_SECONDS:
        ts = time.perf_counter()
        cost = step()
        ms = (time.perf_counter() - ts) * 1000
        warm.append(ms)
        emit({"kind": "warmup", "ms": ms, "cost": cost})
        if elapsed() > WARMUP_SHARE * req["limit"]:
            break
    rest = sorted(warm[1:])
    step_ms = warm[0] if len(warm) <= 1 else (rest[len(rest) >> 1] if cycle > 1 else rest[0])
    wanted = req["steps"] if req["steps"] > 0 else max(1, round(req["seconds"] * 1000 / step_ms))
    steps = -(-wanted // cycle) * cycle
    left = 0.9 * req["limit"] - elapsed()
    repeats = max(0, min(req["repeats"], int(left * 1000 // (steps * step_ms))))
    emit({"kind": "plan", "steps": steps, "repeats": repeats})
    for _ in range(repeats):
        ts = time.perf_counter()
        for _ in range(steps):
            step()
        emit({"kind": "repeat", "steps": steps, "ms": (time.perf_counter() - ts) * 1000})
    emit({"kind": "done"})


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line for the table's notes, not a traceback
        emit({"kind": "error", "message": f"torch: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:200]})
