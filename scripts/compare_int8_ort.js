#!/usr/bin/env node
// ONNX Runtime side of scripts/compare_int8.sh: runs MODEL.onnx (npm
// onnxruntime-node) on the images of a U8 IDX file, fed as pixels / 255
// in float32, NCHW [N, 1, H, W] (the input scripts/export_onnx.py's models
// take, and the one `quanta export` keeps for a model imported with
// --normalize 1/255), and writes the top-1 class of every image:
//
//   NODE_PATH=.../node_modules node scripts/compare_int8_ort.js MODEL.onnx IMAGES.gz OUT.json
//
// OUT.json: {"model": ..., "predictions": [class, ...]}. Exits 2 on an
// input error.
'use strict';

const fs = require('fs');
const zlib = require('zlib');
const ort = require('onnxruntime-node');

function fail(msg) {
  process.stderr.write(`compare_int8_ort.js: ${msg}\n`);
  process.exit(2);
}

function readImages(path) {
  let buf = fs.readFileSync(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  if (buf[2] !== 0x08 || buf[3] !== 3) fail(`${path}: not a U8 IDX file of images [N, H, W]`);
  const n = buf.readUInt32BE(4), h = buf.readUInt32BE(8), w = buf.readUInt32BE(12);
  const x = new Float32Array(n * h * w);
  // as quanta feeds it: raw * (1/255) in double, rounded once to float32
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(buf[16 + i] * (1 / 255));
  return { n, h, w, x };
}

async function main() {
  const [model, images, out] = process.argv.slice(2);
  if (!out) fail('usage: compare_int8_ort.js MODEL.onnx IMAGES.gz OUT.json');
  const d = readImages(images);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const per = d.h * d.w, batch = 500, predictions = [];
  for (let b = 0; b < d.n; b += batch) {
    const m = Math.min(batch, d.n - b);
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32',
      d.x.subarray(b * per, (b + m) * per), [m, 1, d.h, d.w]) };
    const y = (await session.run(feeds))[session.outputNames[0]].data;
    const classes = y.length / m;
    for (let i = 0; i < m; i++) {
      let best = 0;
      for (let k = 1; k < classes; k++) if (y[i * classes + k] > y[i * classes + best]) best = k;
      predictions.push(best);
    }
  }
  fs.writeFileSync(out + '.tmp', JSON.stringify({ model, predictions }) + '\n');
  fs.renameSync(out + '.tmp', out);
}

main().catch((e) => fail(e.message));
