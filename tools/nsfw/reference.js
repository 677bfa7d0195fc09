// The original: nsfwjs' own code on TensorFlow.js' pure-JS CPU backend, for the parity test.
//   node reference.js MobileNetV2|InceptionV3 IMAGES.json [cpu|wasm]
// The backend defaults to TensorFlow.js' pure-JS CPU one (the reference); wasm (its .wasm files ship in the
// npm package) is ~15x faster and agrees with it within 2e-5, for whole-folder comparisons.
// IMAGES.json lists {"path": ..., "height": h, "width": w}, each path a file of h*w*3 decoded RGB bytes, so
// both sides classify the very same pixels and only preprocessing + model are compared; an entry without
// height and width is a JPEG file, decoded here by jpeg-js (pure JS), as a Node user of nsfwjs would.
// Prints one JSON object per image on stdout: {"path": ..., "probabilities": {"Drawing": p, ...}}.
"use strict";
const fs = require("fs");
const path = require("path");
const tf = require("@tensorflow/tfjs");
const jpeg = require("jpeg-js");
const nsfwjs = require("nsfwjs");

console.info = console.error; // nsfwjs announces the model on stdout, which carries the results

async function main() {
  const [modelName, listFile, backend = "cpu"] = process.argv.slice(2);
  if (!modelName || !listFile) {
    console.error("usage: node reference.js MODEL IMAGES.json");
    process.exit(2);
  }
  if (backend === "wasm") require("@tensorflow/tfjs-backend-wasm");
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} is not available`);
  await tf.ready();
  const model = await nsfwjs.load(modelName);
  for (const image of JSON.parse(fs.readFileSync(listFile, "utf8"))) {
    const data = fs.readFileSync(path.resolve(path.dirname(listFile), image.path));
    const tensor = image.height ? tf.tensor3d(new Uint8Array(data), [image.height, image.width, 3], "int32") : decode(data);
    const predictions = await model.classify(tensor, 5); // all five classes
    tensor.dispose();
    const probabilities = Object.fromEntries(predictions.map((p) => [p.className, p.probability]));
    process.stdout.write(JSON.stringify({ path: image.path, probabilities }) + "\n");
  }
}

function decode(data) {
  const { width, height, data: rgba } = jpeg.decode(data, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
  return tf.tensor3d(rgba, [height, width, 3], "int32");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
