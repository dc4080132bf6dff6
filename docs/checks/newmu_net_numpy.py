"""Newmu's 3_net.py re-written in NumPy (float32), as an independent check of
specs/newmu-net.yaml: 784-625-10, sigmoid hidden layer, softmax output, no
biases, weights N(0, 0.01^2), mean cross-entropy, SGD lr 0.05, minibatches of
128 in order. Prints the validation error after each epoch, to set beside
runs/newmu_net/metrics.jsonl. Data from docs/checks/dump-mnist.ts.

    python3 docs/checks/newmu_net_numpy.py EPOCHS
"""
import sys
import numpy as np

X = np.fromfile("/tmp/mn-train-x.f32", np.float32).reshape(-1, 784)
Y = np.fromfile("/tmp/mn-train-y.i32", np.int32)
VX = np.fromfile("/tmp/mn-valid-x.f32", np.float32).reshape(-1, 784)
VY = np.fromfile("/tmp/mn-valid-y.i32", np.int32)

rng = np.random.RandomState(0)
w_h = (rng.randn(784, 625) * 0.01).astype(np.float32)
w_o = (rng.randn(625, 10) * 0.01).astype(np.float32)
lr = np.float32(0.05)


def forward(x):
    h = 1 / (1 + np.exp(-(x @ w_h)))
    a = h @ w_o
    p = np.exp(a - a.max(1, keepdims=True))
    return h, p / p.sum(1, keepdims=True)


for epoch in range(int(sys.argv[1])):
    # 3_net.py's zip(range(0, n, 128), range(128, n, 128)) drops the last
    # partial minibatch.
    for s in range(0, len(X) - 127, 128):
        x, y = X[s:s + 128], Y[s:s + 128]
        h, p = forward(x)
        g = p.copy()
        g[np.arange(len(y)), y] -= 1
        g /= len(y)                          # d mean(NLL) / d logits
        g_o = h.T @ g
        g_h = x.T @ ((g @ w_o.T) * h * (1 - h))
        w_o -= lr * g_o
        w_h -= lr * g_h
    _, p = forward(VX)
    print(epoch + 1, f"{(p.argmax(1) != VY).mean() * 100:.2f} %", flush=True)
