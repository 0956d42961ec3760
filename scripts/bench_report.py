#!/usr/bin/python3
"""Turns the results scripts/bench.sh collected into Markdown tables.

    /usr/bin/python3 scripts/bench_report.py build/bench/results

Reads machine.txt and the `quanta bench --json` outputs (ref-*, opt-*
with float and int8 at 1 and 2 threads, avx2-*) and scripts/bench_ort.js outputs (ort-*) named by bench.sh; a file
that is missing leaves its rows out. GOP/s of ONNX Runtime uses quanta's
operation count of the same float model (see man quanta-bench(1)); its % of
peak uses the float peak of the kernel level quanta chose on this machine.
"""
import json
import os
import sys

MODELS = [("fmnist-cnn", "fmnist-cnn (28x28x1, 2 conv + 2 dense)"),
          ("large-convnet", "large-convnet (32x32x3, 4 conv + dense)")]


def load(res, name):
    path = os.path.join(res, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def entry(doc, model, batch):
    """(model dict, batch dict) of a quanta bench document, or (None, None)."""
    if not doc or model >= len(doc["models"]):
        return None, None
    m = doc["models"][model]
    for b in m["batches"]:
        if b["batch"] == batch:
            return m, b
    return m, None


def ort_entry(doc, batch):
    if not doc:
        return None
    for b in doc["batches"]:
        if b["batch"] == batch:
            return b
    return None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2fx" % (a / b)


def main():
    res = sys.argv[1] if len(sys.argv) > 1 else "build/bench/results"
    machine = {}
    with open(os.path.join(res, "machine.txt")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            machine[k] = v
    any_doc = load(res, "opt-fmnist-cnn") or load(res, "opt-large-convnet")
    level = any_doc["kernels"] if any_doc else "?"
    ghz = any_doc.get("ghz") if any_doc else None
    ghz_text = "%.2f GHz (%s)" % (ghz, any_doc["ghz_source"]) if ghz else "unknown"
    ort_any = load(res, "ort-opt-fmnist-cnn")
    ort_name = "ONNX Runtime %s" % ort_any["version"] if ort_any else "ONNX Runtime"

    out = []
    p = out.append
    p("### Performance")
    p("")
    p("Machine: %s, %s cores, clock %s. quanta kernels: `%s` (`quanta --version`: %s)." %
      (machine.get("cpu", "?"), machine.get("cores", "?"), ghz_text, level,
       machine.get("version", "?").rstrip(";").replace(";", "; ")))
    p("Medians of %s timed runs after %s warm-up runs (reference kernels: %s runs) on "
      "synthetic input, `quanta bench`; one thread unless stated. GOP/s counts a "
      "multiply-add as 2 operations; %% of peak is against threads x GHz x ops/cycle of "
      "the level (man quanta-bench(1))." %
      (machine.get("iters", "?"), machine.get("warmup", "?"), machine.get("ref_iters", "?")))
    p("")
    p("| model | batch | threads | engine | median ms | samples/s | GOP/s | % of peak |")
    p("|---|---:|---:|---|---:|---:|---:|---:|")
    speed = []
    for key, title in MODELS:
        ref, opt = load(res, "ref-" + key), load(res, "opt-" + key)
        ort1, ort2 = load(res, "ort-opt-" + key), load(res, "ort-t2-" + key)
        if not opt:
            continue
        ops = opt["models"][0]["ops_per_sample"]
        # opt rows: float and int8 at 1 thread, then float and int8 at 2
        for batch, threads, first, odoc in ((1, 1, 0, ort1), (64, 1, 0, ort1),
                                            (64, 2, 2, ort2)):
            qdoc = opt
            rows = []
            mr, br = entry(ref, 0, batch) if threads == 1 else (None, None)
            mf, bf = entry(qdoc, first, batch)
            mi, bi = entry(qdoc, first + 1, batch)
            if br:
                rows.append(("quanta float, `ref`", br))
            if bf:
                rows.append(("quanta float, `%s`" % qdoc["kernels"], bf))
            if bi:
                rows.append(("quanta int8, `%s`" % qdoc["kernels"], bi))
            bo = ort_entry(odoc, batch)
            if bo:
                gops = ops * batch / (bo["median_ms"] * 1e-3) * 1e-9
                peak = mf["peak_gops"] if mf else None
                bo = dict(bo, gops=gops, peak_fraction=gops / peak if peak else None)
                rows.append((ort_name + " float", bo))
            for engine, b in rows:
                frac = b.get("peak_fraction")
                p("| %s | %d | %d | %s | %s | %s | %s | %s |" % (
                    key, batch, threads, engine, fmt(b["median_ms"], ".3f"),
                    fmt(b["samples_per_s"], ".0f"), fmt(b.get("gops"), ".2f"),
                    "-" if frac is None else "%.1f%%" % (100 * frac)))
            speed.append((key, batch, threads,
                           ratio(bf and bf["median_ms"], bi and bi["median_ms"]),
                           ratio(br and br["median_ms"], bf and bf["median_ms"]),
                           ratio(bo and bo["median_ms"], bf and bf["median_ms"]),
                           ratio(bo and bo["median_ms"], bi and bi["median_ms"])))
    p("")
    p("Speed-ups (ratio of medians; above 1 means the first is faster):")
    p("")
    p("| model | batch | threads | int8 vs optimized float | optimized float vs reference float "
      "| quanta float vs ONNX Runtime | quanta int8 vs ONNX Runtime |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    for row in speed:
        p("| %s | %d | %d | %s | %s | %s | %s |" % row)

    p("")
    p("Batch 64: two threads against one (one `quanta bench --threads 1,2` call), and int8 against "
      "float with the AVX2 kernels forced (`QUANTA_ISA=avx2`, one thread):")
    p("")
    p("| model | float, 2 threads vs 1 | int8, 2 threads vs 1 | `avx2` float ms | "
      "`avx2` int8 ms | `avx2` int8 vs float |")
    p("|---|---:|---:|---:|---:|---:|")
    for key, _ in MODELS:
        opt, avx2 = load(res, "opt-" + key), load(res, "avx2-" + key)
        if not opt:
            continue
        cells = []
        for i in (0, 1):
            _, b1 = entry(opt, i, 64)
            _, b2 = entry(opt, i + 2, 64)
            cells.append(ratio(b1 and b1["median_ms"], b2 and b2["median_ms"]))
        _, af = entry(avx2, 0, 64)
        _, ai = entry(avx2, 1, 64)
        cells += [fmt(af and af["median_ms"], ".3f"), fmt(ai and ai["median_ms"], ".3f"),
                  ratio(af and af["median_ms"], ai and ai["median_ms"])]
        p("| %s | %s |" % (key, " | ".join(cells)))

    dref, dopt = load(res, "ref-dense-1024"), load(res, "opt-dense-1024")
    dort = load(res, "ort-opt-dense-1024")
    if dopt:
        p("")
        p("One 1024x1024 dense layer at batch 256, one thread "
          "(2 x 256 x 1024 x 1024 = 0.537 GOP per run):")
        p("")
        p("| engine | median ms | GOP/s | peak GOP/s | % of peak |")
        p("|---|---:|---:|---:|---:|")
        for doc, names in ((dref, ("quanta float, `ref`", "quanta int8, `ref`")),
                           (dopt, ("quanta float, `%s`" % dopt["kernels"],
                                   "quanta int8, `%s`" % dopt["kernels"]))):
            for i, name in enumerate(names):
                m, b = entry(doc, i, 256)
                if not b:
                    continue
                frac = b["peak_fraction"]
                p("| %s | %.3f | %.2f | %s | %s |" % (
                    name, b["median_ms"], b["gops"], fmt(m["peak_gops"], ".1f"),
                    "-" if frac is None else "%.1f%%" % (100 * frac)))
        bo = ort_entry(dort, 256)
        if bo:
            m, _ = entry(dopt, 0, 256)
            gops = m["ops_per_sample"] * 256 / (bo["median_ms"] * 1e-3) * 1e-9
            peak = m["peak_gops"]
            p("| %s float | %.3f | %.2f | %s | %s |" % (
                ort_name, bo["median_ms"], gops, fmt(peak, ".1f"),
                "%.1f%%" % (100 * gops / peak) if peak else "-"))
    skipped = os.path.join(res, "ort-skipped.txt")
    if os.path.exists(skipped):
        with open(skipped) as f:
            p("")
            p("ONNX Runtime: not measured (%s)." % f.read().strip())
    print("\n".join(out))


if __name__ == "__main__":
    main()
