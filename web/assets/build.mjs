// Builds ../static/{diagram-viewer,studio-modeler,studio-decisions}.{js,css} from src/ with esbuild, and
// records the SHA-256 of what they were built from (the sources, package.json and package-lock.json) in
// ../static/diagram-viewer.sources.sha256, so that a test can tell when the committed bundles no longer
// match their sources.
import { build } from "esbuild";
import { sourcesDigest } from "./digest.mjs";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static");
// The viewer is on every record page; the modeler and the decision editor only on the studio's pages.
const ENTRIES = ["diagram-viewer", "studio-modeler", "studio-decisions"];

for (const name of ENTRIES) {
  await build({
    entryPoints: [join(here, "src", `${name}.js`)],
    outfile: join(out, `${name}.js`),
    bundle: true,
    minify: true,
    format: "iife",
    target: ["es2020"],
    legalComments: "eof",
    // The icon fonts are files of their own: a browser fetches the one format it reads first (woff2).
    loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "file" },
    assetNames: "fonts/[name]-[hash]",
    logLevel: "info",
  });
}
writeFileSync(join(out, "diagram-viewer.sources.sha256"), `${sourcesDigest(here)}\n`);
