"""Reference semantics of quanta's operators, in numpy float64.

Each function follows the text of model-format.md section 3 directly (no
speed tricks), so its results can serve as expected values for the C
kernels and runtime, and as a check that an exported model computes the
same thing as the framework it came from.

    import quanta_format as qf, quanta_ref
    graph, tensors, _ = qf.read_model("m.safetensors")
    outputs = quanta_ref.run_graph(graph, tensors, {"image": uint8_images})

Activations are NHWC. Integer data given for an input that has a normalize
block is fed as (raw * scale - mean[c]) / std[c]; float data as it is.
"""

import math

import numpy as np

ACTIVATIONS = ("none", "relu", "relu6")


def activate(y, activation):
    if activation == "none":
        return y
    if activation == "relu":
        return np.maximum(y, 0.0)
    if activation == "relu6":
        return np.minimum(np.maximum(y, 0.0), 6.0)
    raise ValueError("unknown activation %r" % activation)


def _out_size(size, pad_before, pad_after, kernel, stride, dilation=1):
    span = dilation * (kernel - 1) + 1
    return (size + pad_before + pad_after - span) // stride + 1


def conv2d(x, w, b=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1),
           groups=1, activation="none"):
    """x [N,H,W,C], w [O,KH,KW,C/groups], b [O] -> [N,OH,OW,O]."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    n, h, wd, c = x.shape
    o, kh, kw, cg = w.shape
    assert c % groups == 0 and o % groups == 0 and cg == c // groups
    top, left, bottom, right = pads
    sh, sw = strides
    dh, dw = dilations
    oh = _out_size(h, top, bottom, kh, sh, dh)
    ow = _out_size(wd, left, right, kw, sw, dw)
    xp = np.zeros((n, h + top + bottom, wd + left + right, c))
    xp[:, top:top + h, left:left + wd, :] = x
    og = o // groups
    y = np.zeros((n, oh, ow, o))
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            patch = xp[:, r0:r0 + sh * (oh - 1) + 1:sh, c0:c0 + sw * (ow - 1) + 1:sw, :]
            for g in range(groups):
                xs = patch[..., g * cg:(g + 1) * cg]
                ws = w[g * og:(g + 1) * og, i, j, :]
                y[..., g * og:(g + 1) * og] += np.einsum("nhwc,oc->nhwo", xs, ws)
    if b is not None:
        y += np.asarray(b, np.float64)
    return activate(y, activation)


def dense(x, w, b=None, activation="none"):
    """x [N,K], w [O,K], b [O] -> x.w^T + b."""
    y = np.asarray(x, np.float64) @ np.asarray(w, np.float64).T
    if b is not None:
        y = y + np.asarray(b, np.float64)
    return activate(y, activation)


def _pool(x, kernel, strides, pads, kind):
    x = np.asarray(x, np.float64)
    n, h, wd, c = x.shape
    kh, kw = kernel
    sh, sw = strides if strides is not None else kernel
    top, left, bottom, right = pads
    oh = _out_size(h, top, bottom, kh, sh)
    ow = _out_size(wd, left, right, kw, sw)
    y = np.zeros((n, oh, ow, c))
    for r in range(oh):
        for q in range(ow):
            r0, q0 = r * sh - top, q * sw - left
            r1, q1 = min(r0 + kh, h), min(q0 + kw, wd)
            r0, q0 = max(r0, 0), max(q0, 0)
            cells = x[:, r0:r1, q0:q1, :]  # only the cells inside the input
            if cells.shape[1] == 0 or cells.shape[2] == 0:
                raise ValueError("pool window (%d, %d) lies in the padding" % (r, q))
            if kind == "max":
                y[:, r, q, :] = cells.max(axis=(1, 2))
            else:
                y[:, r, q, :] = cells.mean(axis=(1, 2))
    return y


def max_pool2d(x, kernel, strides=None, pads=(0, 0, 0, 0)):
    return _pool(x, kernel, strides, pads, "max")


def avg_pool2d(x, kernel, strides=None, pads=(0, 0, 0, 0)):
    """Average over the window's cells inside the input (padding not counted)."""
    return _pool(x, kernel, strides, pads, "avg")


def global_avg_pool(x):
    return np.asarray(x, np.float64).mean(axis=(1, 2))


def flatten(x):
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1)


def reshape(x, shape):
    x = np.asarray(x)
    shape = list(shape)
    if shape and shape[0] == -1:
        shape[0] = x.shape[0]
    return x.reshape(shape)


def _binary(a, b, fn, activation="none"):
    """NumPy broadcasting (the spec's rule for every binary op)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    np.broadcast_shapes(a.shape, b.shape)  # raises when they do not broadcast
    return activate(fn(a, b), activation)


BINARY = {
    "sub": np.subtract,
    "div": np.divide,
    "pow": np.power,
    "min": np.minimum,
    "max": np.maximum,
    "prelu": lambda a, b: np.where(a >= 0, a, a * b),
}


def _erf(x):
    return np.vectorize(math.erf)(x)


def _clamp01(v):
    return np.clip(v, 0.0, 1.0)


# name -> f(x, attrs) in float64; alpha/beta/gamma/min/max defaults of the spec
UNARY = {
    "neg": lambda x, a: -x,
    "abs": lambda x, a: np.abs(x),
    "exp": lambda x, a: np.exp(x),
    "log": lambda x, a: np.log(x),
    "sqrt": lambda x, a: np.sqrt(x),
    "erf": lambda x, a: _erf(x),
    "hard_sigmoid": lambda x, a: _clamp01(a.get("alpha", 0.2) * x + a.get("beta", 0.5)),
    "hard_swish": lambda x, a: x * _clamp01(x / 6.0 + 0.5),
    "elu": lambda x, a: np.where(x > 0, x, a.get("alpha", 1.0) * np.expm1(x)),
    "selu": lambda x, a: a.get("gamma", 1.0507009873554805) *
    np.where(x > 0, x, a.get("alpha", 1.6732632423543772) * np.expm1(x)),
    "clip": lambda x, a: np.clip(x, a.get("min", -3.4028234663852886e38),
                                 a.get("max", 3.4028234663852886e38)),
    "silu": lambda x, a: x / (1.0 + np.exp(-x)),
    "gelu": lambda x, a: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
    "gelu_tanh": lambda x, a: 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) *
                                                       (x + 0.044715 * x ** 3))),
}


def add(a, b, activation="none"):
    return _binary(a, b, np.add, activation)


def mul(a, b, activation="none"):
    return _binary(a, b, np.multiply, activation)


def relu(x):
    return np.maximum(np.asarray(x, np.float64), 0.0)


def relu6(x):
    return np.minimum(relu(x), 6.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def tanh(x):
    return np.tanh(np.asarray(x, np.float64))


def leaky_relu(x, alpha=0.01):
    x = np.asarray(x, np.float64)
    return np.where(x >= 0, x, alpha * x)


def concat(xs, axis=-1):
    return np.concatenate([np.asarray(x, np.float64) for x in xs], axis=axis)


def softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def batch_norm(x, gamma, beta, mean, var, epsilon=1e-5):
    """Inference form, per channel of the last axis."""
    x = np.asarray(x, np.float64)
    f = lambda v: np.asarray(v, np.float64)  # noqa: E731
    return (x - f(mean)) / np.sqrt(f(var) + epsilon) * f(gamma) + f(beta)


def layer_norm(x, scale, bias=None, axis=-1, epsilon=1e-5):
    """Over the axes from axis to the last; scale and bias of their shape."""
    x = np.asarray(x, np.float64)
    axes = tuple(range(axis % x.ndim, x.ndim))
    m = x.mean(axis=axes, keepdims=True)
    v = ((x - m) ** 2).mean(axis=axes, keepdims=True)
    y = (x - m) / np.sqrt(v + epsilon) * np.asarray(scale, np.float64)
    return y if bias is None else y + np.asarray(bias, np.float64)


def instance_norm(x, scale, bias, epsilon=1e-5):
    """x [N, ..., C]: per sample and channel, over the axes between."""
    x = np.asarray(x, np.float64)
    axes = tuple(range(1, x.ndim - 1))
    m = x.mean(axis=axes, keepdims=True)
    v = ((x - m) ** 2).mean(axis=axes, keepdims=True)
    return ((x - m) / np.sqrt(v + epsilon) * np.asarray(scale, np.float64)
            + np.asarray(bias, np.float64))


INT_RANGE = {"U8": (0, 255), "I8": (-128, 127), "I16": (-32768, 32767),
             "I32": (-2**31, 2**31 - 1), "I64": (-2**63, 2**63 - 1)}


def cast(x, to):
    """The values of dtype to, as float: F16/BF16 round to nearest even,
    integers truncate toward zero (out of range is an error), BOOL x != 0."""
    x = np.asarray(x)
    # ids (int64) to float32 in one rounding, floats as they are
    x = x.astype(np.float32) if np.issubdtype(x.dtype, np.integer) \
        else x.astype(np.float64).astype(np.float32)
    if to == "F32":
        return x.astype(np.float64)
    if to == "F16":
        return x.astype(np.float16).astype(np.float64)
    if to == "BF16":
        bits = x.view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)
    if to == "BOOL":
        return (x != 0).astype(np.float64)
    t = np.trunc(x.astype(np.float64))
    lo, hi = INT_RANGE[to]
    if np.isnan(t).any() or t.min() < lo or t.max() > hi:
        raise ValueError("cast: a value outside %s" % to)
    return t + 0.0


def embedding_bag(ids, table, offsets=None, weights=None, mode="mean"):
    """Bags of ids [N, T], or ids [L] split by offsets [N]; sum (times the
    weights), mean or max of the rows per bag; an empty bag gives zeros."""
    ids = np.asarray(ids)
    table = np.asarray(table, np.float64)
    if ids.size and (ids.min() < 0 or ids.max() >= table.shape[0]):
        raise ValueError("id outside [0, %d)" % table.shape[0])
    if offsets is None:
        bounds = [(i * ids.shape[1], (i + 1) * ids.shape[1]) for i in range(ids.shape[0])]
    else:
        o = list(np.asarray(offsets)) + [ids.size]
        bounds = [(o[i], o[i + 1]) for i in range(len(o) - 1)]
    flat = ids.reshape(-1)
    w = None if weights is None else np.asarray(weights, np.float64).reshape(-1)
    out = np.zeros((len(bounds), table.shape[1]))
    for b, (s, e) in enumerate(bounds):
        if e <= s:
            continue
        rows = table[flat[s:e]]
        if mode == "max":
            out[b] = rows.max(axis=0)
        elif mode == "mean":
            out[b] = rows.sum(axis=0) / (e - s)
        else:
            out[b] = (rows * (w[s:e, None] if w is not None else 1.0)).sum(axis=0)
    return out


def embedding(ids, table):
    ids = np.asarray(ids)
    table = np.asarray(table, np.float64)
    if ids.min() < 0 or ids.max() >= table.shape[0]:
        raise ValueError("id outside [0, %d)" % table.shape[0])
    return table[ids]


def mean(x, axes, keepdims=False):
    return np.asarray(x, np.float64).mean(axis=tuple(axes), keepdims=keepdims)


def pad(x, begin, end, mode="constant", value=0.0):
    """ONNX Pad: negative counts first remove elements (as onnxruntime
    does), then numpy.pad (the ONNX reference) adds the rest."""
    x = np.asarray(x, np.float64)
    crop = tuple(slice(max(-b, 0), x.shape[d] - max(-e, 0))
                 for d, (b, e) in enumerate(zip(begin, end)))
    width = [(max(b, 0), max(e, 0)) for b, e in zip(begin, end)]
    if mode == "constant":
        return np.pad(x[crop], width, mode="constant", constant_values=value)
    return np.pad(x[crop], width, mode=mode)


def _resize_coord(o, scale, in_size, width, coord):
    """ONNX Resize's input coordinate of output index o (the reference's
    formulas, width = in_size * scale as the reference has it)."""
    if coord == "align_corners":
        return 0.0 if width == 1 else o * (in_size - 1) / (width - 1)
    if coord == "asymmetric":
        return o / scale
    if coord == "pytorch_half_pixel":
        return -0.5 if width == 1 else (o + 0.5) / scale - 0.5
    if coord == "tf_half_pixel_for_nn":
        return (o + 0.5) / scale
    return (o + 0.5) / scale - 0.5  # half_pixel


def resize(x, shape, scales=None, mode="nearest", coord="half_pixel",
           nearest="round_prefer_floor"):
    """ONNX Resize (nearest, linear), one axis after the other (both are
    separable): a given float32 scale s has width float32(s * in), else
    s = out / in and width s * in in float64; the two neighbours of the
    coordinate are clamped to the input (the reference's edge padding)."""
    y = np.asarray(x, np.float64)
    for d in range(y.ndim):
        n_in = y.shape[d]
        n_out = n_in if shape[d] < 0 else shape[d]
        s = scales[d] if scales else 0.0
        if shape[d] < 0:
            scale, width = 1.0, float(n_in)
        elif s > 0:
            scale = float(np.float32(s))
            width = float(np.float32(s) * np.float32(n_in))
        else:
            scale = n_out / n_in
            width = scale * n_in
        taps = []
        for o in range(n_out):
            c = _resize_coord(o, scale, n_in, width, coord)
            f = math.floor(c)
            r = c - f
            lo, hi = min(max(f, 0), n_in - 1), min(max(f + 1, 0), n_in - 1)
            if mode == "linear":
                taps.append(((lo, 1.0 - r), (hi, r)))
            else:
                up = r != 0 and {"round_prefer_floor": r > 0.5, "round_prefer_ceil": r >= 0.5,
                                 "floor": False, "ceil": True}[nearest]
                taps.append(((hi if up else lo, 1.0),))
        parts = []
        for t in taps:
            acc = 0.0
            for i, w in t:
                acc = acc + w * np.take(y, [i], axis=d)
            parts.append(acc)
        y = np.concatenate(parts, axis=d)
    return y


def run_node(op, ins, attrs):
    """Runs one node: op name, list of input arrays (None for an omitted
    optional input), attrs dict (defaults of the spec for missing ones)."""
    a = dict(attrs or {})
    act = a.get("activation", "none")
    if op == "conv2d":
        return conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                      a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0]),
                      a.get("dilations", [1, 1]), a.get("groups", 1), act)
    if op == "dense":
        return dense(ins[0], ins[1], ins[2] if len(ins) > 2 else None, act)
    if op in ("relu", "relu6", "sigmoid", "tanh", "global_avg_pool", "flatten"):
        return globals()[op](ins[0])
    if op == "leaky_relu":
        return leaky_relu(ins[0], a.get("alpha", 0.01))
    if op in ("max_pool2d", "avg_pool2d"):
        return globals()[op](ins[0], a["kernel"], a.get("strides"),
                             a.get("pads", [0, 0, 0, 0]))
    if op == "reshape":
        return reshape(ins[0], a["shape"])
    if op in ("add", "mul"):
        return globals()[op](ins[0], ins[1], act)
    if op == "concat":
        return concat(ins, a.get("axis", -1))
    if op == "softmax":
        return softmax(ins[0], a.get("axis", -1))
    if op == "batch_norm":
        return batch_norm(*ins, epsilon=a.get("epsilon", 1e-5))
    if op == "embedding":
        return embedding(ins[0], ins[1])
    if op == "embedding_bag":
        return embedding_bag(ins[0], ins[1], mode=a.get("mode", "mean"))
    if op == "layer_norm":
        return layer_norm(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                          a.get("axis", -1), a.get("epsilon", 1e-5))
    if op == "instance_norm":
        return instance_norm(ins[0], ins[1], ins[2], a.get("epsilon", 1e-5))
    if op == "cast":
        return cast(ins[0], a["to"])
    if op == "mean":
        return mean(ins[0], a["axes"], a.get("keepdims", False))
    if op == "matmul":
        return np.matmul(np.asarray(ins[0], np.float64), np.asarray(ins[1], np.float64))
    if op == "slice":
        x = np.asarray(ins[0], np.float64)
        steps = a.get("steps", [1] * x.ndim)
        idx = []
        for d in range(x.ndim):
            n = x.shape[d] if a["shape"][d] < 0 else a["shape"][d]
            idx.append(np.arange(n) * steps[d] + a["starts"][d])
        return x[np.ix_(*idx)]
    if op == "pad":
        return pad(ins[0], a["pads_begin"], a["pads_end"], a.get("mode", "constant"),
                   a.get("value", 0.0))
    if op == "resize":
        return resize(ins[0], a["shape"], a.get("scales"), a.get("mode", "nearest"),
                      a.get("coord", "half_pixel"), a.get("nearest", "round_prefer_floor"))
    if op == "log_softmax":
        return np.log(softmax(ins[0], a.get("axis", -1)))
    if op in ("argmax", "argmin"):  # the first extreme (NaN counts as one), or the last
        x = np.asarray(ins[0], np.float64)
        axis, pick = a["axes"][0], np.argmax if op == "argmax" else np.argmin
        if a.get("select_last", False):
            r = x.shape[axis] - 1 - pick(np.flip(x, axis), axis=axis)
        else:
            r = pick(x, axis=axis)
        return np.expand_dims(r, axis) if a.get("keepdims", False) else r
    if op in ("reduce_sum", "reduce_max", "reduce_min", "reduce_l2"):
        x = np.asarray(ins[0], np.float64)
        fn = {"reduce_sum": np.sum, "reduce_max": np.max, "reduce_min": np.min,
              "reduce_l2": lambda v, axis, keepdims: np.sqrt(np.sum(v * v, axis=axis,
                                                                    keepdims=keepdims))}[op]
        return fn(x, axis=tuple(a["axes"]), keepdims=a.get("keepdims", False))
    if op == "transpose":
        return np.transpose(np.asarray(ins[0], np.float64), a["perm"])
    if op in BINARY:
        return _binary(ins[0], ins[1], BINARY[op])
    if op in UNARY:
        return UNARY[op](np.asarray(ins[0], np.float64), a)
    raise ValueError("unknown op %r" % op)


def run_graph(graph, tensors, feeds):
    """Runs a float graph; returns {output name: float64 array}.

    feeds maps input names to arrays; integer data for an input with a
    normalize block is normalized first (in float64)."""
    env = {}
    for name, t in tensors.items():
        env[name] = t if np.issubdtype(np.asarray(t).dtype, np.integer) \
            else np.asarray(t, np.float64)
    for inp in graph["inputs"]:
        data = np.asarray(feeds[inp["name"]])
        norm = inp.get("normalize")
        if inp.get("dtype", "F32") not in ("I32", "I64"):  # declared types fed as float
            if norm is not None and np.issubdtype(data.dtype, np.integer):
                if data.ndim == len(inp["shape"]) - 1:
                    data = data[..., None]  # IDX [N,H,W] fed as [N,H,W,1]
                m = np.asarray(norm.get("mean", [0.0]), np.float64)
                s = np.asarray(norm.get("std", [1.0]), np.float64)
                data = (data.astype(np.float64) * norm.get("scale", 1.0) - m) / s
            else:
                data = data.astype(np.float64)
        env[inp["name"]] = data
    for nd in graph["nodes"]:
        ins = [env[v] if v else None for v in nd["inputs"]]
        env[nd["outputs"][0]] = run_node(nd["op"], ins, nd.get("attrs"))
    return {name: env[name] for name in graph["outputs"]}
