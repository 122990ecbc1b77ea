// Builds the browser side into dist/, which is committed and embedded in
// the binary (web.go), so that `go run ./cmd/helpline serve` needs no Node.
// `make web` runs this; CI rebuilds and fails when dist/ differs.
//
// static/ is copied as it is; each entry below is bundled and minified by
// esbuild. The output is deterministic: the same sources give the same bytes.
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');

// out (under dist/) → source (under src/).
const entries = {
  'widget.js': 'widget/loader.js',
  'widget/frame.js': 'widget/frame.js',
  'console/app.js': 'console/main.js',
  'servicedesk.js': 'servicedesk/main.js',
};

fs.rmSync(dist, { recursive: true, force: true });
fs.cpSync(path.join(here, 'static'), dist, { recursive: true });

for (const [out, src] of Object.entries(entries)) {
  const source = path.join(here, 'src', src);
  if (!fs.existsSync(source)) continue;
  await esbuild.build({
    entryPoints: [source],
    outfile: path.join(dist, out),
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020'],
    legalComments: 'none',
    logLevel: 'warning',
  });
}

for (const f of listFiles(dist)) {
  console.log(`${path.relative(here, f)}\t${fs.statSync(f).size} bytes`);
}

function listFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}
