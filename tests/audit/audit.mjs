// The graphql-http server audits (the GraphQL-over-HTTP spec's MUSTs and SHOULDs) against a
// running gateway: `node audit.mjs <url> <api key>`. Prints each failing audit, then a summary.
import { auditServer } from 'graphql-http';

const [url, key] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
};
const results = await auditServer({ url, fetchFn });
let ok = 0, warn = 0, error = 0;
for (const r of results) {
  if (r.status === 'ok') ok++;
  else {
    if (r.status === 'warn') warn++; else error++;
    console.log(r.status, r.name, r.reason);
  }
}
console.log(`audits: ${ok} ok, ${warn} warn, ${error} error of ${results.length}`);
