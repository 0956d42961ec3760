#!/usr/bin/env node
// Runs an ONNX model written by `quanta export` under ONNX Runtime (npm
// onnxruntime-node) on the samples of an IDX or NPY file and compares its
// first output with quanta's (an NPY written by `quanta run --output`), for
// scripts/export_check.sh:
//
//   NODE_PATH=.../node_modules node scripts/export_check.js MODEL.onnx \
//       --quanta-model M.safetensors --data FILE --reference REF.npy \
//       (--min-agreement PCT | --max-rel-diff D) [--batch N] [--layout nchw|nhwc]
//
// --max-rel-diff bounds max |onnx - quanta| / max |quanta| over every
// output value (as the CLI tests' cf_max_rel_diff); --min-agreement the
// percentage of samples whose top-1 class is the same.
// Samples are fed as quanta feeds them: integer data normalized as the
// quanta model's graph input says, (raw * scale - mean[c]) / std[c] in
// double with mean and std rounded to float32, rounded once to float32.
// Only one float input is supported. --layout nchw transposes [C, H, W]
// samples to an NHWC input, as `quanta run --layout nchw`. Prints one JSON
// line; exits 1 when the check fails, 2 on a usage or input error.
'use strict';

const fs = require('fs');
const zlib = require('zlib');
const ort = require('onnxruntime-node');

function fail(msg) {
  process.stderr.write(`export_check.js: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { batch: 256, layout: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => (i + 1 < argv.length ? argv[++i] : fail(`${a} needs a value`));
    if (a === '--quanta-model') o.qmodel = next();
    else if (a === '--data') o.data = next();
    else if (a === '--reference') o.reference = next();
    else if (a === '--min-agreement') o.minAgreement = Number(next());
    else if (a === '--max-rel-diff') o.maxRel = Number(next());
    else if (a === '--batch') o.batch = Number(next());
    else if (a === '--layout') o.layout = next();
    else if (!o.model) o.model = a;
    else fail(`unexpected argument '${a}'`);
  }
  if (!o.model || !o.qmodel || !o.data || !o.reference) fail('missing arguments (see the header)');
  if ((o.minAgreement === undefined) === (o.maxRel === undefined))
    fail('give one of --min-agreement and --max-rel-diff');
  return o;
}

// The quanta.graph of a safetensors model (8-byte length, JSON header).
function quantaGraph(path) {
  const buf = fs.readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  return JSON.parse(header.__metadata__['quanta.graph']);
}

const NPY_TYPES = {
  '<f4': [Float32Array, 4], '<f8': [Float64Array, 8], '|u1': [Uint8Array, 1],
  '|i1': [Int8Array, 1], '<i4': [Int32Array, 4], '<i8': [BigInt64Array, 8],
};

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.subarray(0, 6).toString('latin1') !== '\x93NUMPY') fail(`${path}: not an NPY file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = buf.subarray(major === 1 ? 10 : 12, start).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim())
    .map(Number);
  if (/'fortran_order':\s*True/.test(header)) fail(`${path}: Fortran order`);
  const t = NPY_TYPES[descr] || fail(`${path}: dtype ${descr} not supported`);
  const count = shape.reduce((a, b) => a * b, 1);
  const bytes = buf.subarray(start, start + count * t[1]);
  const data = new t[0](bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return { shape, data, integer: descr !== '<f4' && descr !== '<f8' };
}

function readIdx(path) {
  let buf = fs.readFileSync(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  const type = buf[2], rank = buf[3];
  if (type !== 0x08 && type !== 0x09) fail(`${path}: IDX type ${type} not supported`);
  const shape = [];
  for (let d = 0; d < rank; d++) shape.push(buf.readUInt32BE(4 + 4 * d));
  const start = 4 + 4 * rank;
  const raw = buf.subarray(start);
  const data = type === 0x08 ? new Uint8Array(raw) : new Int8Array(raw);
  if (rank === 3) shape.push(1); // images [N, H, W] are [N, H, W, 1]
  return { shape, data, integer: true };
}

function samples(o, input) {
  const d = /\.npy$/.test(o.data) ? readNpy(o.data) : readIdx(o.data);
  const n = d.shape[0];
  const per = d.data.length / n;
  const x = new Float32Array(d.data.length);
  const norm = d.integer ? input.normalize : null;
  const channels = d.shape[d.shape.length - 1];
  const f32 = Math.fround;
  for (let i = 0; i < x.length; i++) {
    const raw = Number(d.data[i]);
    if (!norm) { x[i] = raw; continue; }
    const c = o.layout === 'nchw' ? Math.floor((i % per) / (per / d.shape[1])) : i % channels;
    const mean = f32(norm.mean.length === 1 ? norm.mean[0] : norm.mean[c]);
    const std = f32(norm.std.length === 1 ? norm.std[0] : norm.std[c]);
    x[i] = f32((raw * norm.scale - mean) / std);
  }
  return { n, shape: d.shape, x };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const graph = quantaGraph(o.qmodel);
  if (graph.inputs.length !== 1) fail('only models of one input are supported');
  const s = samples(o, graph.inputs[0]);
  const ref = readNpy(o.reference);
  if (ref.shape[0] !== s.n) fail(`reference has ${ref.shape[0]} samples, data ${s.n}`);
  const session = await ort.InferenceSession.create(o.model, {
    intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const per = s.x.length / s.n, outPer = ref.data.length / s.n;
  let agree = 0, maxAbs = 0, peak = 0;
  for (let b = 0; b < s.n; b += o.batch) {
    const m = Math.min(o.batch, s.n - b);
    const shape = [m, ...s.shape.slice(1)];
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32',
      s.x.subarray(b * per, (b + m) * per), shape) };
    const out = (await session.run(feeds))[session.outputNames[0]].data;
    if (out.length !== m * outPer) fail(`ONNX output has ${out.length / m} values a sample, quanta ${outPer}`);
    for (let i = 0; i < m; i++) {
      let ai = 0, bi = 0;
      for (let k = 0; k < outPer; k++) {
        const va = out[i * outPer + k], vb = ref.data[(b + i) * outPer + k];
        if (va > out[i * outPer + ai]) ai = k;
        if (vb > ref.data[(b + i) * outPer + bi]) bi = k;
        peak = Math.max(peak, Math.abs(vb));
        const diff = Math.abs(va - vb);
        if (!(diff <= maxAbs)) maxAbs = Number.isNaN(diff) ? Infinity : diff;
      }
      if (ai === bi) agree++;
    }
  }
  const pct = (100 * agree) / s.n;
  const rel = peak > 0 ? maxAbs / peak : maxAbs;
  const ok = o.minAgreement !== undefined ? pct >= o.minAgreement : rel <= o.maxRel;
  console.log(JSON.stringify({ model: o.model, samples: s.n, top1_agreement_pct: pct,
    max_abs_diff: maxAbs, max_rel_diff: rel, ok }));
  process.exit(ok ? 0 : 1);
}

main().catch((e) => fail(e.message));
