import { expect } from 'chai';
import { parseBlobEvents } from '../../functions/core/blob-events';
import { TOMBSTONE_CONTENT_TYPE } from '../../functions/core/definitions';
import {
  type BlobCommit,
  buildBlobCreatedEvent,
  encodeQueueMessage,
  formatEventTime,
  formatSequencer,
  landingSubscriptionFilter,
  matchesSubscription,
  storageAccountTopic,
} from '../../local/event-grid-event';

const blobName = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b/photo.jpg';

function commit(overrides: Partial<BlobCommit> = {}): BlobCommit {
  return {
    accountName: 'devstoreaccount1',
    containerName: 'uploads',
    blobName,
    url: `http://127.0.0.1:10000/devstoreaccount1/uploads/${blobName}`,
    api: 'PutBlob',
    eTag: '0x8DE2D5B1C8A3F00',
    contentType: 'image/jpeg',
    contentLength: 18581,
    blobType: 'BlockBlob',
    sequence: 66n,
    eventTime: new Date('2026-11-26T10:00:00.123Z'),
    ...overrides,
  };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('event-grid-event', () => {
  it('builds the EventGridSchema BlobCreated event, fields in the documented order', () => {
    const event = buildBlobCreatedEvent(commit());
    expect(Object.keys(event)).to.deep.equal([
      'topic',
      'subject',
      'eventType',
      'eventTime',
      'id',
      'data',
      'dataVersion',
      'metadataVersion',
    ]);
    expect(Object.keys(event.data)).to.deep.equal([
      'api',
      'clientRequestId',
      'requestId',
      'eTag',
      'contentType',
      'contentLength',
      'blobType',
      'url',
      'sequencer',
      'storageDiagnostics',
    ]);
    expect(event).to.deep.include({
      topic:
        '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/directdrop-local/providers/Microsoft.Storage/storageAccounts/devstoreaccount1',
      subject: `/blobServices/default/containers/uploads/blobs/${blobName}`,
      eventType: 'Microsoft.Storage.BlobCreated',
      eventTime: '2026-11-26T10:00:00.1230000Z',
      dataVersion: '',
      metadataVersion: '1',
    });
    expect(event.data).to.deep.include({
      api: 'PutBlob',
      eTag: '"0x8DE2D5B1C8A3F00"',
      contentType: 'image/jpeg',
      contentLength: 18581,
      blobType: 'BlockBlob',
      url: `http://127.0.0.1:10000/devstoreaccount1/uploads/${blobName}`,
      sequencer: '00000000000000000000000000000042',
    });
    for (const id of [event.id, event.data.requestId, event.data.clientRequestId]) {
      expect(id).to.match(GUID);
    }
    expect(event.data.storageDiagnostics.batchId).to.match(GUID);
  });

  it('shapes ids like Azure: the request id ends in zeros and the event id extends it', () => {
    const { id, data } = buildBlobCreatedEvent(commit());
    expect(data.requestId.endsWith('000000')).to.equal(true);
    expect(id.slice(0, 28)).to.equal(data.requestId.slice(0, 28));
  });

  it('gives a re-delivered version the same ids and a new version new ones', () => {
    const first = buildBlobCreatedEvent(commit());
    const again = buildBlobCreatedEvent(commit({ sequence: 99n, eventTime: new Date() }));
    const next = buildBlobCreatedEvent(commit({ eTag: '0x8DE2D5B1C8A3F01' }));
    expect(again.id).to.equal(first.id);
    expect(again.data.requestId).to.equal(first.data.requestId);
    expect(next.id).to.not.equal(first.id);
  });

  it('quotes the eTag once, and derives the same ids from either spelling', () => {
    const bare = buildBlobCreatedEvent(commit({ eTag: '0x1' }));
    const quoted = buildBlobCreatedEvent(commit({ eTag: '"0x1"' }));
    expect(quoted.data.eTag).to.equal('"0x1"');
    expect(bare).to.deep.equal(quoted);
  });

  it('encodes the message as Base64 of the UTF-8 JSON, byte for byte', () => {
    const event = buildBlobCreatedEvent(commit({ blobName: 'id/ünïcödé.jpg' }));
    const message = encodeQueueMessage(event);
    expect(message).to.match(/^[A-Za-z0-9+/]+=*$/);
    const decoded = Buffer.from(message, 'base64').toString('utf8');
    expect(decoded).to.equal(JSON.stringify(event));
    expect(JSON.parse(decoded).subject).to.equal(
      '/blobServices/default/containers/uploads/blobs/id/ünïcödé.jpg',
    );
  });

  it('formats sequencers as 32 hex digits that order like the numbers', () => {
    const values = [0n, 9n, 10n, 255n, 4096n, (1n << 64n) + 1n];
    const formatted = values.map(formatSequencer);
    formatted.forEach((s) => expect(s).to.match(/^[0-9A-F]{32}$/));
    expect([...formatted].sort()).to.deep.equal(formatted);
    expect(() => formatSequencer(-1n)).to.throw(RangeError);
    expect(() => formatSequencer(1n << 128n)).to.throw(RangeError);
  });

  it('writes event times with seven fractional digits', () => {
    expect(formatEventTime(new Date('2017-06-26T18:41:00.958Z'))).to.equal(
      '2017-06-26T18:41:00.9580000Z',
    );
  });

  it('names the account in an ARM-shaped topic', () => {
    expect(storageAccountTopic('acct')).to.match(
      /^\/subscriptions\/[0-9-]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Storage\/storageAccounts\/acct$/,
    );
  });

  describe('subscription filter', () => {
    const filter = landingSubscriptionFilter('uploads');

    it('passes committed blobs of the landing container', () => {
      for (const api of ['PutBlob', 'PutBlockList', 'CopyBlob'] as const) {
        expect(matchesSubscription(buildBlobCreatedEvent(commit({ api })), filter)).to.equal(true);
      }
    });

    it('drops other containers, including one sharing the prefix', () => {
      for (const containerName of ['processed', 'uploads2', 'upload']) {
        const event = buildBlobCreatedEvent(commit({ containerName }));
        expect(matchesSubscription(event, filter), containerName).to.equal(false);
      }
    });

    it('drops APIs that do not commit a blob', () => {
      const event = buildBlobCreatedEvent(commit());
      const uncommitted = { ...event, data: { ...event.data, api: 'PutBlock' } };
      expect(matchesSubscription(uncommitted as typeof event, filter)).to.equal(false);
    });

    it('drops tombstones (data.contentType StringNotIn, case-insensitive as Event Grid compares)', () => {
      expect(filter.excludedContentTypes).to.deep.equal([TOMBSTONE_CONTENT_TYPE]);
      for (const contentType of [TOMBSTONE_CONTENT_TYPE, TOMBSTONE_CONTENT_TYPE.toUpperCase()]) {
        const event = buildBlobCreatedEvent(commit({ contentType, contentLength: 0 }));
        expect(matchesSubscription(event, filter), contentType).to.equal(false);
      }
      const image = buildBlobCreatedEvent(commit({ contentType: 'image/jpeg' }));
      expect(matchesSubscription(image, filter)).to.equal(true);
    });
  });

  it('is understood by the functions’ own event parser', () => {
    const event = buildBlobCreatedEvent(commit({ api: 'PutBlockList' }));
    const payload = JSON.parse(Buffer.from(encodeQueueMessage(event), 'base64').toString('utf8'));
    const [parsed] = parseBlobEvents(payload, 'uploads');
    expect(parsed).to.deep.equal({
      kind: 'commit',
      commit: {
        eventId: event.id,
        container: 'uploads',
        blobName,
        api: 'PutBlockList',
        eTag: '"0x8DE2D5B1C8A3F00"',
        sequencer: '00000000000000000000000000000042',
        contentLength: 18581,
        contentType: 'image/jpeg',
        blobType: 'BlockBlob',
      },
    });
  });
});
