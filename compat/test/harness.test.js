// The harness itself: parsing of the ready banner `helpline serve` prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReady } from '../lib/harness.js';

const banner = `some log line
Helpline is ready.
  Connect endpoint:    http://127.0.0.1:41234
  Region:              us-east-1
  Instance id:         6f1c2b8e-0d1f-4a57-9c1e-2f9b0a1d3c4e
  Contact flow id:     0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d
  Access key id:       AKIAEXAMPLE
  Secret access key:   s3cr3t/with+symbols
  Data directory:      ./helpline-data
`;

test('parseReady reads every labelled line', () => {
  assert.deepEqual(parseReady(banner), {
    endpoint: 'http://127.0.0.1:41234',
    region: 'us-east-1',
    instanceId: '6f1c2b8e-0d1f-4a57-9c1e-2f9b0a1d3c4e',
    contactFlowId: '0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d',
    accessKeyId: 'AKIAEXAMPLE',
    secretAccessKey: 's3cr3t/with+symbols',
    dataDir: './helpline-data',
  });
});

test('parseReady waits for the whole banner', () => {
  const partial = banner.split('\n').slice(0, 5).join('\n');
  assert.equal(parseReady(partial), null);
  assert.equal(parseReady('Connect endpoint: http://x\n'), null);
});
