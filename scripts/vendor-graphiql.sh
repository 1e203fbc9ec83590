#!/usr/bin/env bash
# Refresh the self-hosted GraphiQL assets in assets/graphiql/ from the npm registry.
#
# This is the documented, manual way to update the vendored files; it is NOT run
# at build time (the Rust binary embeds the committed files with include_bytes!).
# Review the diff and commit the result.
#
# Usage: scripts/vendor-graphiql.sh [GRAPHIQL_VERSION] [REACT_VERSION]
#   defaults: graphiql 4.1.2 (newest 4.x; 5.x no longer ships the UMD bundle),
#             react / react-dom 18.3.1 (newest 18.x; React 19 has no UMD builds).
set -euo pipefail

GRAPHIQL_VERSION="${1:-4.1.2}"
REACT_VERSION="${2:-18.3.1}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/assets/graphiql"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

command -v npm >/dev/null || { echo "npm is required" >&2; exit 1; }

cd "$TMP"
for spec in "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION"; do
  pkg="${spec%@*}"
  tgz="$(npm pack --silent "$spec" | tail -n 1)"
  mkdir -p "$pkg"
  tar -xzf "$tgz" -C "$pkg"
done

# graphiql.min.js / graphiql.min.css are the UMD bundle and stylesheet
# (copies of dist/index.umd.js and dist/style.css).
for f in graphiql/package/graphiql.min.js graphiql/package/graphiql.min.css \
         react/package/umd/react.production.min.js \
         react-dom/package/umd/react-dom.production.min.js; do
  [[ -f "$f" ]] || { echo "missing $f in tarball (no UMD build in this version?)" >&2; exit 1; }
done

# Actual versions (in case a range was given).
gv="$(node -p "require('./graphiql/package/package.json').version")"
rv="$(node -p "require('./react/package/package.json').version")"
rdv="$(node -p "require('./react-dom/package/package.json').version")"

mkdir -p "$DEST"
cp graphiql/package/graphiql.min.js graphiql/package/graphiql.min.css "$DEST/"
cp react/package/umd/react.production.min.js "$DEST/"
cp react-dom/package/umd/react-dom.production.min.js "$DEST/"
cp graphiql/package/LICENSE "$DEST/LICENSE-graphiql.txt"
cp react/package/LICENSE "$DEST/LICENSE-react.txt"  # react-dom has the identical MIT licence

cd "$DEST"
{
  echo "# Vendored by scripts/vendor-graphiql.sh from the npm registry (npm pack)."
  echo "# Do not edit by hand; re-run the script to refresh."
  echo "graphiql $gv (graphiql.min.js, graphiql.min.css: UMD build, MIT, LICENSE-graphiql.txt)"
  echo "react $rv (react.production.min.js: umd/, MIT, LICENSE-react.txt)"
  echo "react-dom $rdv (react-dom.production.min.js: umd/, MIT, LICENSE-react.txt)"
  echo
  echo "# sha256"
  sha256sum react.production.min.js react-dom.production.min.js graphiql.min.js graphiql.min.css \
            LICENSE-graphiql.txt LICENSE-react.txt
} > VERSIONS.txt

echo "Vendored graphiql $gv, react $rv, react-dom $rdv into $DEST"
