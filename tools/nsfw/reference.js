// The original: nsfwjs' own code on TensorFlow.js' pure-JS CPU backend, for the parity test.
//   node reference.js MobileNetV2|InceptionV3 IMAGES.json
// IMAGES.json lists {"path": ..., "height": h, "width": w}, each path a file of h*w*3 decoded RGB bytes, so
// both sides classify the very same pixels and only preprocessing + model are compared. Prints one JSON object
// per image on stdout: {"path": ..., "probabilities": {"Drawing": p, ...}}.
"use strict";
const fs = require("fs");
const path = require("path");
const tf = require("@tensorflow/tfjs");
const nsfwjs = require("nsfwjs");

console.info = console.error; // nsfwjs announces the model on stdout, which carries the results

async function main() {
  const [modelName, listFile] = process.argv.slice(2);
  if (!modelName || !listFile) {
    console.error("usage: node reference.js MODEL IMAGES.json");
    process.exit(2);
  }
  await tf.setBackend("cpu");
  await tf.ready();
  const model = await nsfwjs.load(modelName);
  for (const image of JSON.parse(fs.readFileSync(listFile, "utf8"))) {
    const pixels = new Uint8Array(fs.readFileSync(path.resolve(path.dirname(listFile), image.path)));
    const tensor = tf.tensor3d(pixels, [image.height, image.width, 3], "int32");
    const predictions = await model.classify(tensor, 5); // all five classes
    tensor.dispose();
    const probabilities = Object.fromEntries(predictions.map((p) => [p.className, p.probability]));
    process.stdout.write(JSON.stringify({ path: image.path, probabilities }) + "\n");
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
