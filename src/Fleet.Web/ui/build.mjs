// Bundles the map page, ui/main.ts, into wwwroot/dist/app.js and app.css, and the administration page, ui/admin.ts,
// into admin.js and admin.css (each with the CSS it imports).
// Run by `npm run build`, which the MSBuild target in Fleet.Web.csproj calls when a ui/ file changed.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const started = performance.now();

await build({
  entryPoints: { app: path.join(here, "main.ts"), admin: path.join(here, "admin.ts") },
  outdir: path.join(here, "..", "wwwroot", "dist"),
  bundle: true,
  minify: true,
  sourcemap: "linked",
  format: "iife",
  platform: "browser",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  // Leaflet's stylesheet refers to a few small images; inline them rather than ship loose files.
  loader: { ".png": "dataurl", ".svg": "dataurl" },
  legalComments: "linked",
  logLevel: "warning",
});

console.log(`fleet ui: bundled into wwwroot/dist in ${Math.round(performance.now() - started)} ms`);
