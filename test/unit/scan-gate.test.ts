import { expect } from 'chai';
import {
  type VerdictExpectations,
  decideGate,
  gateRecordNames,
  parseGateMessages,
  remainingWaitMs,
} from '../../functions/core/scan-gate';

const expectations: VerdictExpectations = {
  topic: '/subscriptions/1/resourceGroups/rg/providers/Microsoft.EventGrid/topics/results',
  containers: [
    { name: 'uploads', url: 'https://acct.blob.core.windows.net/uploads' },
    { name: 'dropzone-cameras', url: 'https://acct.blob.core.windows.net/dropzone-cameras' },
  ],
};
const uploadId = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b';

function verdictEvent(data: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return {
    id: 'e1',
    subject: 'storageAccounts/acct/containers/uploads/blobs/x',
    data: {
      correlationId: 'c1',
      blobUri: `https://acct.blob.core.windows.net/uploads/${uploadId}/10/a%20b.jpg`,
      eTag: '0x8D1',
      scanFinishedTimeUtc: '2026-01-01T00:00:00Z',
      scanResultType: 'No threats found',
      scanResultDetails: { malwareNamesFound: [], sha256: 'AB' },
      ...data,
    },
    eventType: 'Microsoft.Security.MalwareScanningResult',
    dataVersion: '1.0',
    metadataVersion: '1',
    eventTime: '2026-01-01T00:00:00Z',
    topic: expectations.topic,
    ...extra,
  };
}

const kindOf = (message: unknown) => parseGateMessages(message, expectations)?.map((m) => m.kind);

describe('scan-gate', () => {
  it('leaves BlobCreated events, non-JSON and empty arrays to the processing path', () => {
    expect(
      parseGateMessages({ eventType: 'Microsoft.Storage.BlobCreated' }, expectations),
    ).to.equal(undefined);
    expect(parseGateMessages('not json', expectations)).to.equal(undefined);
    expect(parseGateMessages([], expectations)).to.equal(undefined);
  });

  it('decodes the blob name from the URI and quotes the eTag', () => {
    const [item] = parseGateMessages(JSON.stringify(verdictEvent()), expectations)!;
    expect(item).to.deep.include({ kind: 'verdict' });
    if (item.kind === 'verdict')
      expect(item.verdict).to.include({
        container: 'uploads',
        blobName: `${uploadId}/10/a b.jpg`,
        eTag: '"0x8D1"',
        result: 'clean',
      });
  });

  it("reads a verdict for a drop zone's blob as that zone container's", () => {
    const [item] = parseGateMessages(
      verdictEvent({ blobUri: 'https://acct.blob.core.windows.net/dropzone-cameras/cam1/a.jpg' }),
      expectations,
    )!;
    if (item.kind !== 'verdict') throw new Error(`expected a verdict, got ${item.kind}`);
    expect(item.verdict).to.include({ container: 'dropzone-cameras', blobName: 'cam1/a.jpg' });
  });

  it('maps each result type, in any case, and treats unknown ones as unverified', () => {
    const resultOf = (scanResultType: string) => {
      const [item] = parseGateMessages(verdictEvent({ scanResultType }), expectations)!;
      return item.kind === 'verdict' ? item.verdict.result : item.kind;
    };
    expect(resultOf('No threats found')).to.equal('clean');
    expect(resultOf('Malicious')).to.equal('malicious');
    expect(resultOf('Error')).to.equal('unverified');
    expect(resultOf('Not Scanned')).to.equal('unverified');
    expect(resultOf('Scan timed out')).to.equal('unverified');
  });

  it('ignores verdicts from another topic or for another container or account', () => {
    expect(kindOf(verdictEvent({}, { topic: `${expectations.topic}-other` }))).to.deep.equal([
      'ignored',
    ]);
    expect(
      kindOf(
        verdictEvent({ blobUri: `https://acct.blob.core.windows.net/processed/${uploadId}/x` }),
      ),
    ).to.deep.equal(['ignored']);
    expect(
      kindOf(
        verdictEvent({ blobUri: `https://other.blob.core.windows.net/uploads/${uploadId}/x` }),
      ),
    ).to.deep.equal(['ignored']);
    expect(
      parseGateMessages(verdictEvent(), { ...expectations, topic: '' })?.map((m) => m.kind),
    ).to.deep.equal(['ignored']);
  });

  it('calls a verdict without blobUri, eTag or result type malformed', () => {
    expect(kindOf(verdictEvent({ eTag: undefined }))).to.deep.equal(['malformed']);
    expect(kindOf(verdictEvent({ blobUri: 42 }))).to.deep.equal(['malformed']);
    expect(kindOf(verdictEvent({ scanResultType: undefined }))).to.deep.equal(['malformed']);
    expect(kindOf({ ...verdictEvent(), data: 'x' })).to.deep.equal(['malformed']);
  });

  it('reads timeout checks, and refuses ones without a valid upload id', () => {
    expect(
      kindOf({ type: 'directdrop.ScanVerdictTimeoutCheck', uploadId, eTag: '0x1' }),
    ).to.deep.equal(['timeout-check']);
    expect(
      kindOf({ type: 'directdrop.ScanVerdictTimeoutCheck', uploadId: '../x', eTag: '0x1' }),
    ).to.deep.equal(['malformed']);
  });

  it('decides: wait without a verdict, process when clean, reject malware, policy otherwise', () => {
    expect(decideGate(undefined, 'fail')).to.deep.equal({ action: 'wait' });
    expect(decideGate({ result: 'clean' }, 'reject')).to.deep.equal({ action: 'process' });
    expect(decideGate({ result: 'malicious' }, 'process')).to.include({
      action: 'reject',
      reason: 'malware',
    });
    expect(decideGate({ result: 'unverified' }, 'fail')).to.include({
      action: 'fail',
      reason: 'scan-failed',
    });
    expect(decideGate({ result: 'unverified' }, 'reject')).to.include({
      action: 'reject',
      reason: 'not-scanned',
    });
    expect(decideGate({ result: 'unverified' }, 'process')).to.deep.equal({ action: 'process' });
  });

  it('never names the malware in what the uploader is told', () => {
    const decision = decideGate({ result: 'malicious' }, 'fail');
    expect(decision.action === 'reject' && decision.message).to.not.match(/eicar|trojan/i);
  });

  it('keeps its records outside the output folder of the same version', () => {
    expect(gateRecordNames(uploadId, '"0x8D1"')).to.deep.equal({
      verdict: `${uploadId}/gate/0x8D1/verdict.json`,
      pending: `${uploadId}/gate/0x8D1/pending.json`,
    });
  });

  it('counts the wait from the recorded start', () => {
    const now = new Date('2026-01-01T00:10:00Z');
    expect(remainingWaitMs('2026-01-01T00:00:00Z', now, 900)).to.equal(300_000);
    expect(remainingWaitMs('2026-01-01T00:00:00Z', now, 600)).to.equal(0);
  });
});
