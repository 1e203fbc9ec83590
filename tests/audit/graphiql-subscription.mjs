// GraphiQL's subscription fetcher, as the gateway serves it in its GraphiQL page, run under
// Node: it must tell a subscription from a query, stream a subscription's events over SSE with
// the header editor's headers, and end the stream when GraphiQL stops it.
//   node graphiql-subscription.mjs http://127.0.0.1:PORT API_KEY
const [base, key] = process.argv.slice(2);
const page = await (await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } })).text();
const begin = page.indexOf('// scimgate:subscriptions:begin');
const end = page.indexOf('// scimgate:subscriptions:end');
if (begin < 0 || end < begin) throw new Error('the page has no subscription fetcher');
const code = page.slice(begin, end);
// The page's relative `/graphql`, resolved against the gateway.
const pageFetch = (url, opts) => fetch(new URL(url, base), opts);
const { isSubscription, sseFetcher } = new Function(
  'fetch', `${code}; return { isSubscription, sseFetcher };`)(pageFetch);

const sub = { query: 'subscription { directoryEvents { node { seq kind actor } } }' };
if (!isSubscription(sub, {}) || isSubscription({ query: '{ org { name } }' }, {})) {
  throw new Error('isSubscription is wrong');
}
const auth = { Authorization: `Bearer ${key}` };
const events = sseFetcher(sub, auth)[Symbol.asyncIterator]();
const first = events.next();
// The stream starts with the next event: write until one arrives (the first write may come
// before the subscription has started).
let got = null;
for (let n = 0; !got; n++) {
  if (n === 20) throw new Error('no event after 20 writes');
  const write = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ query: `mutation { inviteUser(input: { email: "graphiql${n}@example.com", givenName: "Graph", familyName: "IQL" }) { outcome } }` }),
  });
  const outcome = (await write.json()).data.inviteUser.outcome;
  if (outcome !== 'SUCCESS') throw new Error(`the write: ${outcome}`);
  got = await Promise.race([first, new Promise((r) => setTimeout(() => r(null), 500))]);
}
const node = got.value.data.directoryEvents.node;
console.log(`event ${node.kind} ${node.actor}`);
// Stopping it in GraphiQL aborts the request.
await events.return();
console.log('stopped');
