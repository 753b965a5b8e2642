// Builds ../static/diagram-viewer.{js,css} from src/ with esbuild, and records the SHA-256 of what it was
// built from (the sources, package.json and package-lock.json) in ../static/diagram-viewer.sources.sha256,
// so that a test can tell when the committed bundle no longer matches its sources.
import { build } from "esbuild";
import { sourcesDigest } from "./digest.mjs";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static");

await build({
  entryPoints: [join(here, "src", "diagram-viewer.js")],
  outfile: join(out, "diagram-viewer.js"),
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "eof",
  logLevel: "info",
});
writeFileSync(join(out, "diagram-viewer.sources.sha256"), `${sourcesDigest(here)}\n`);
