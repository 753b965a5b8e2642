// The digest of a bundle's inputs. tests/web/test_assets.py computes the same thing in Python.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

export const INPUTS = ["package.json", "package-lock.json", "build.mjs", "digest.mjs"];

function walk(folder) {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(folder, entry.name)) : [join(folder, entry.name)]);
}

export function sourcesDigest(root) {
  const files = [...INPUTS.map((name) => join(root, name)), ...walk(join(root, "src"))];
  const names = files.map((file) => relative(root, file).split("\\").join("/")).sort();
  const hash = createHash("sha256");
  for (const name of names) {
    hash.update(`${name}\n`);
    hash.update(readFileSync(join(root, name)));
    hash.update("\n");
  }
  return hash.digest("hex");
}
