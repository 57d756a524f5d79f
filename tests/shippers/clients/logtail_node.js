// @logtail/node (Better Stack), unmodified, logging the Clickpost calls of INPUT.
// `new Logtail(sourceToken, { endpoint })` as Better Stack's docs say, `endpoint` our door; each
// call's fields are the log's context (top-level keys of the gzip'd msgpack map). It retries a
// failed batch `retryCount` times and posts an empty array on flush; a batch it gives up on is
// reported by `flush()`'s error, which this driver prints.
// env: SHIP_URL, SHIP_TOKEN, INPUT.
const fs = require('fs');
const { Logtail } = require('@logtail/node');

const logtail = new Logtail(process.env.SHIP_TOKEN, {
  endpoint: process.env.SHIP_URL,
  batchInterval: 300,
  retryCount: 3,
  retryBackoff: 500,
  ignoreExceptions: false,
  throwExceptions: true,
});

async function main() {
  const sends = [];
  for (const line of fs.readFileSync(process.env.INPUT, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const { message, ...call } = JSON.parse(line);
    sends.push(logtail.info(message || 'Clickpost call', call));
  }
  await Promise.all(sends);
  await logtail.flush();
}
main().then(() => process.exit(0), (e) => { console.error('logtail error', e); process.exit(1); });
