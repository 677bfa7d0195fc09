// Dumps one nsfwjs model's topology (model.json) and its weights (weights.bin, the shards concatenated in the
// manifest's order) into a folder, for tools/nsfw/convert.py.
//   node extract.js MobileNetV2|MobileNetV2Mid|InceptionV3 OUT_DIR
// nsfwjs ships each model as JS modules (its `exports` field hides them from require('nsfwjs/...')), so they
// are required by path from the installed package. Nothing is downloaded here: `npm ci` already verified the
// package against package-lock.json's integrity hash.
"use strict";
const fs = require("fs");
const path = require("path");

const PACKAGE = path.join(__dirname, "node_modules", "nsfwjs");
const FOLDERS = { MobileNetV2: "mobilenet_v2", MobileNetV2Mid: "mobilenet_v2_mid", InceptionV3: "inception_v3" };

function main() {
  const [name, outDir] = process.argv.slice(2);
  const folder = FOLDERS[name];
  if (!folder || !outDir) {
    console.error(`usage: node extract.js ${Object.keys(FOLDERS).join("|")} OUT_DIR`);
    process.exit(2);
  }
  const modelDir = path.join(PACKAGE, "dist", "models", folder);
  const modelJson = require(path.join(modelDir, "model.min.js"));
  const chunks = [];
  for (const group of modelJson.weightsManifest) {
    for (const shard of group.paths) {
      const base64 = require(path.join(modelDir, `${shard}.min.js`));
      if (typeof base64 !== "string") throw new Error(`${shard}.min.js does not export a base64 string`);
      chunks.push(Buffer.from(base64, "base64"));
    }
  }
  const version = require(path.join(PACKAGE, "package.json")).version;
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "model.json"), JSON.stringify({ ...modelJson, nsfwjsVersion: version }));
  fs.writeFileSync(path.join(outDir, "weights.bin"), Buffer.concat(chunks));
  console.log(`${name} (nsfwjs ${version}): ${chunks.length} shard(s), ${Buffer.concat(chunks).length} bytes -> ${outDir}`);
}

main();
