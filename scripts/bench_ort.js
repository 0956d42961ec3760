#!/usr/bin/env node
// Latency of an ONNX model under ONNX Runtime (the onnxruntime-node npm
// package), measured like `quanta bench`, for scripts/bench.sh:
//
//   NODE_PATH=build/bench/ort/node_modules node scripts/bench_ort.js MODEL.onnx \
//       --shape 1,28,28 [--batch 1,64] [--threads 1] [--iters 20] [--warmup 3]
//       [--ids NAME:MAX ...]
//
// --shape is the per-sample shape of the input. The input is uniform
// [-1, 1) floats; with --ids (repeatable), the model's inputs are those
// named, each int64 ids uniform in [0, MAX) of that shape (a text
// encoder: --ids ids:1024 --ids mask:2). Each timed run is one awaited session.run
// (process.hrtime around it, so the figure includes the JS binding's
// overhead, a few microseconds). Prints one JSON object:
//   {"engine": "onnxruntime-node", "version", "threads",
//    "batches": [{"batch", "median_ms", "cpu_ms", "p90_ms", "p99_ms", "samples_per_s"}]}
// cpu_ms: the median process CPU time of one run (user + system, all
// threads), as quanta bench's cpu ms: comparable on a busy machine.
'use strict';

const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const o = { batches: [1, 64], threads: 1, iters: 20, warmup: 3, shape: null, model: null,
    ids: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const ints = (s) => s.split(',').map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`'${s}' is not a list of numbers >= 1`);
      return n;
    });
    if (a === '--batch') o.batches = ints(next());
    else if (a === '--shape') o.shape = ints(next());
    else if (a === '--threads') o.threads = ints(next())[0];
    else if (a === '--iters') o.iters = ints(next())[0];
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--ids') {
      const [name, max] = next().split(':');
      if (!name || !(Number(max) >= 1)) throw new Error(`--ids '${name}:${max}' is not NAME:MAX`);
      o.ids.push({ name, max: Number(max) });
    }
    else if (!o.model) o.model = a;
    else throw new Error(`unexpected argument '${a}'`);
  }
  if (!o.model || !o.shape) throw new Error('usage: bench_ort.js MODEL.onnx --shape D[,D...] ...');
  return o;
}

function percentile(sorted, p) {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(o.model, {
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inputName = session.inputNames[0];
  const perSample = o.shape.reduce((a, b) => a * b, 1);
  const maxBatch = Math.max(...o.batches);
  const data = new Float32Array(perSample * maxBatch);
  let state = 0x2545f491;
  for (let i = 0; i < data.length; i++) {
    state ^= state << 13; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
    data[i] = (state / 4294967296) * 2 - 1;
  }
  const result = {
    engine: 'onnxruntime-node',
    version: require('onnxruntime-node/package.json').version,
    threads: o.threads,
    batches: [],
  };
  const idData = o.ids.map((input) => {
    const v = new BigInt64Array(perSample * maxBatch);
    for (let i = 0; i < v.length; i++) {
      state ^= state << 13; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
      v[i] = BigInt(Math.floor((state / 4294967296) * input.max));
    }
    return v;
  });
  for (const batch of o.batches) {
    const feeds = {};
    if (o.ids.length === 0) {
      feeds[inputName] = new ort.Tensor('float32', data.subarray(0, perSample * batch),
        [batch, ...o.shape]);
    }
    o.ids.forEach((input, k) => {
      feeds[input.name] = new ort.Tensor('int64', idData[k].subarray(0, perSample * batch),
        [batch, ...o.shape]);
    });
    const times = [], cpu = [];
    for (let i = 0; i < o.warmup + o.iters; i++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      const t = Number(process.hrtime.bigint() - t0) / 1e6;
      const c = process.cpuUsage(c0);
      if (i >= o.warmup) {
        times.push(t);
        cpu.push((c.user + c.system) / 1000);
      }
    }
    times.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    const n = times.length;
    const mid = (v) => (n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
    const median = mid(times);
    result.batches.push({
      batch,
      median_ms: median,
      cpu_ms: mid(cpu),
      p90_ms: percentile(times, 90),
      p99_ms: percentile(times, 99),
      samples_per_s: (batch * 1000) / median,
    });
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench_ort: ${e.message}\n`);
  process.exit(1);
});
