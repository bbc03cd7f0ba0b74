#!/usr/bin/env bash
# Builds the npm package `crdt-sync` into wasm/pkg (`cd wasm/pkg && npm pack` makes its tarball).
#
#   wasm/build.sh            # from anywhere in the repo
#
# Steps: add the wasm32 target; install wasm-bindgen-cli at exactly the version of the
# wasm-bindgen crate in Cargo.lock (the two must match); build with the `wasm-release` profile
# (opt-level "z", fat LTO, panic=abort: see Cargo.toml); generate the JS glue for `--target web`
# into wasm/pkg/web; shrink with `wasm-opt -Oz --converge` when it is available (the `binaryen`
# npm package in wasm/package.json ships it); copy the hand-written JS (provider, IndexedDB store,
# tab channel, with their types) next to the web glue, and the Node entries (wasm/npm/node: the web
# glue initialised from the .wasm file) into wasm/pkg/node; write wasm/pkg/package.json from
# wasm/npm/package.json with the workspace's version, the package README and the licences;
# bundle the example pages' editor library (examples/vendor -> examples/web/vendor, esbuild);
# version the example pages' offline copy (examples/web/sw-build.js, see examples/web/sw.js);
# print the gzipped sizes (the Node tests hold the .wasm plus its glue under 212 KiB gzipped).
#
# Layout of wasm/pkg (the examples link examples/web/pkg to wasm/pkg/web, the browser tests
# serve it):
#   web/   crdt_wasm.js + crdt_wasm_bg.wasm (init() fetches it by URL), provider.js, idb.js,
#          broadcast.js, webrtc.js (browsers only), and a .d.ts for each
#   node/  crdt_wasm.js, provider.js: ESM entries that initialise the same web glue from the file
#   package.json, README.md, LICENSE-MIT, LICENSE-APACHE
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

rustup target add wasm32-unknown-unknown >/dev/null

want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, "", $0); print; exit }' Cargo.lock)"
if [ -z "$want" ]; then
    echo "build.sh: no wasm-bindgen in Cargo.lock" >&2
    exit 1
fi
have="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
if [ "$have" != "$want" ]; then
    echo "build.sh: installing wasm-bindgen-cli $want (found '${have:-none}'); this takes minutes"
    # Not --locked: the CLI's own lock file pins a yanked crate.
    cargo install wasm-bindgen-cli --version "$want"
fi

# CRDT_WASM_OPT_LEVEL=3 trades size for speed (see wasm/README.md); the default is the profile's "z".
CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL="${CRDT_WASM_OPT_LEVEL:-z}" \
    cargo build -p crdt-wasm --target wasm32-unknown-unknown --profile wasm-release
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
wasm="$target_dir/wasm32-unknown-unknown/wasm-release/crdt_wasm.wasm"

pkg="$here/pkg"
rm -rf "$pkg"
mkdir -p "$pkg/web" "$pkg/node"
wasm-bindgen "$wasm" --target web --out-dir "$pkg/web"
# Minify the glue (esbuild, pinned in wasm/package.json): it repeats every `///` doc of the
# bindings as JSDoc (the same docs are in crdt_wasm.d.ts, which editors and TypeScript read) and
# spells out long local names: 6.7 KB gzipped as written, 5.3 KB minified. Exported classes
# keep their names (`export class Doc`); the first line, wasm-bindgen's pointer to the types
# for Deno and TypeScript, is put back (minifying drops comments).
esbuild="$here/node_modules/.bin/esbuild"
if [ ! -x "$esbuild" ]; then
    echo "build.sh: $esbuild missing: run npm ci in wasm/ first" >&2
    exit 1
fi
glue="$pkg/web/crdt_wasm.js"
types_line="$(head -n 1 "$glue")"
case "$types_line" in
    "/* @ts-self-types="*) ;;
    *) echo "build.sh: unexpected first line of the glue: $types_line" >&2; exit 1 ;;
esac
"$esbuild" "$glue" --minify --log-level=warning --outfile="$glue.min"
{ echo "$types_line"; cat "$glue.min"; } > "$glue"
rm "$glue.min"
# Still a module that parses (as .mjs: Node before 20.19 does not detect ESM in a .js file).
glue_check="$(mktemp -d)"
cp "$pkg/web/crdt_wasm.js" "$glue_check/crdt_wasm.mjs"
node --check "$glue_check/crdt_wasm.mjs"
rm -r "$glue_check"

wasm_opt=""
if command -v wasm-opt >/dev/null 2>&1; then
    wasm_opt="wasm-opt"
elif [ -x "$here/node_modules/.bin/wasm-opt" ]; then
    wasm_opt="$here/node_modules/.bin/wasm-opt"
fi
if [ -n "$wasm_opt" ]; then
    # --generate-global-effects lets -Oz drop calls without effects; --converge repeats -Oz
    # until the module stops shrinking; the producers and target_features sections are for
    # tools, not browsers (-1 KB gzipped together; wasm/README.md "Size").
    # --low-memory-unused lets it fold `p + c` into load/store offsets (-1.5 KB gzipped): sound
    # when nothing lives below address 1024, and rustc's wasm32 layout puts the stack first
    # (growing down from 1 MiB to 0; data and heap above it), so only a stack within 1 KiB of
    # overflowing reaches there.
    opt() {
        "$wasm_opt" --generate-global-effects --low-memory-unused -Oz --converge \
            --strip-producers --strip-target-features \
            --enable-bulk-memory --enable-nontrapping-float-to-int \
            --enable-sign-ext --enable-mutable-globals --enable-reference-types \
            --enable-multivalue "$1" -o "$1.opt"
        mv "$1.opt" "$1"
    }
    opt "$pkg/web/crdt_wasm_bg.wasm"
else
    echo "build.sh: wasm-opt not found (npm install in wasm/ brings it); skipping -Oz"
fi

# The hand-written JS sits beside the web glue it imports (./crdt_wasm.js).
cp "$here"/js/*.js "$here"/js/*.d.ts "$pkg/web/"
# The Node entries import ../web/crdt_wasm.js: one glue and one .wasm for both.
cp "$here"/npm/node/*.js "$pkg/node/"
cp "$here/npm/README.md" "$root/LICENSE-MIT" "$root/LICENSE-APACHE" "$pkg/"

# package.json: the template with the workspace's version (one version for crates and package).
version="$(awk -F'"' '/^version = / { print $2; exit }' "$root/Cargo.toml")"
node -e '
const { readFileSync, writeFileSync } = require("node:fs");
const [template, out, version] = process.argv.slice(1);
const manifest = JSON.parse(readFileSync(template, "utf8"));
if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) throw new Error(`version "${version}" from Cargo.toml is not semver`);
manifest.version = version;
writeFileSync(out, JSON.stringify(manifest, null, 2) + "\n");
' "$here/npm/package.json" "$pkg/package.json" "$version"

echo "build.sh: built $pkg"

# The example pages' editor library (CodeMirror, from the pinned npm packages in wasm/package.json)
# as one ES module, so the pages load it through an import map with no bundler step to run by
# hand: examples/vendor/*.js are the entries, examples/web/vendor/ the output (not committed).
rm -rf "$root/examples/web/vendor"
for entry in "$root"/examples/vendor/*.js; do
    NODE_PATH="$here/node_modules" "$esbuild" "$entry" --bundle --format=esm --minify \
        --log-level=warning --outfile="$root/examples/web/vendor/$(basename "$entry")"
done
# ProseMirror's own style rules (white-space handling of the editable element).
cp "$here/node_modules/prosemirror-view/style/prosemirror.css" "$root/examples/web/vendor/"
# The example pages' service worker (examples/web/sw.js) keeps these files for offline use. Its
# build file lists every page, script, style sheet and wasm module under examples/web (the
# package through the pkg link) with a hash of their contents as the version, so a rebuild that
# changes any of them (or the worker) makes browsers install a new worker and drop the old cache.
node -e '
const { createHash } = require("node:crypto");
const { readdirSync, readFileSync, statSync, writeFileSync } = require("node:fs");
const { join } = require("node:path");
const web = process.argv[1];
const uncached = new Set(["sw.js", "sw-build.js"]); // the worker and this file
const walk = (dir, prefix) => readdirSync(dir).sort().flatMap((name) => {
  if (name.startsWith(".")) return [];
  const path = join(dir, name);
  if (statSync(path).isDirectory()) return walk(path, `${prefix}${name}/`);
  const keep = /\.(html|css|js|wasm)$/.test(name) && !uncached.has(`${prefix}${name}`);
  return keep ? [`${prefix}${name}`] : [];
});
const files = walk(web, "");
const hash = createHash("sha256");
// The worker itself too (not cached: browsers fetch it themselves): new worker code, new cache.
for (const f of [...files, "sw.js"]) hash.update(f).update("\0").update(readFileSync(join(web, f))).update("\0");
const version = hash.digest("hex").slice(0, 16);
writeFileSync(join(web, "sw-build.js"),
  "// Generated by wasm/build.sh: the build the example pages\x27 service worker (sw.js) caches.\n" +
  `self.BUILD = ${JSON.stringify({ version, files }, null, 2)};\n`);
console.log(`build.sh: examples/web/sw-build.js: version ${version}, ${files.length} files`);
' "$root/examples/web"

# Sizes as a browser downloads them (gzip -9), the budget being the .wasm plus its JS glue.
node -e '
const { readFileSync } = require("node:fs");
const { gzipSync } = require("node:zlib");
const dir = process.argv[1];
const gz = (f) => gzipSync(readFileSync(`${dir}/${f}`), { level: 9 }).length;
const raw = (f) => readFileSync(`${dir}/${f}`).length;
let total = 0;
for (const f of ["crdt_wasm_bg.wasm", "crdt_wasm.js", "provider.js", "idb.js", "broadcast.js", "webrtc.js"]) {
  let g;
  try { g = gz(f); } catch { continue; }
  if (f.startsWith("crdt_wasm")) total += g;
  console.log(`build.sh: ${f.padEnd(18)} ${String(raw(f)).padStart(8)} bytes, ${String(g).padStart(7)} gzipped`);
}
console.log(`build.sh: .wasm + glue: ${total} bytes gzipped (budget 217088)`);
' "$pkg/web"
