import { expect } from 'chai';
import { parseBlobEvents } from '../../functions/core/blob-events';

const landing = 'uploads';
const blobName = '3f2b8c1e-9d4a-4b6f-8e2a-1c3d5e7f9a0b/photo one.jpg';

/** Shaped like the BlobCreated sample in Microsoft's event schema documentation. */
function eventGridEvent(
  overrides: Record<string, unknown> = {},
  data: Record<string, unknown> = {},
) {
  return {
    topic: '/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct',
    subject: `/blobServices/default/containers/${landing}/blobs/${blobName}`,
    eventType: 'Microsoft.Storage.BlobCreated',
    eventTime: '2026-11-26T10:00:00.000Z',
    id: '831e1650-001e-001b-66ab-eeb76e069631',
    data: {
      api: 'PutBlob',
      clientRequestId: '6d79dbfb-0e37-4fc4-981f-442c9ca65760',
      requestId: '831e1650-001e-001b-66ab-eeb76e000000',
      eTag: '"0x8D4BCC2E4835CD0"',
      contentType: 'image/jpeg',
      contentLength: 524288,
      blobType: 'BlockBlob',
      url: `https://acct.blob.core.windows.net/${landing}/${blobName}`,
      sequencer: '00000000000004420000000000028963',
      ...data,
    },
    dataVersion: '',
    metadataVersion: '1',
    ...overrides,
  };
}

describe('blob-events', () => {
  it('parses an EventGridSchema event into a commit', () => {
    const [parsed] = parseBlobEvents(eventGridEvent(), landing);
    expect(parsed).to.deep.equal({
      kind: 'commit',
      commit: {
        eventId: '831e1650-001e-001b-66ab-eeb76e069631',
        container: landing,
        blobName,
        api: 'PutBlob',
        eTag: '"0x8D4BCC2E4835CD0"',
        sequencer: '00000000000004420000000000028963',
        contentLength: 524288,
        contentType: 'image/jpeg',
        blobType: 'BlockBlob',
      },
    });
  });

  it('quotes an unquoted eTag, as storage conditions and manifests carry it', () => {
    const [parsed] = parseBlobEvents(eventGridEvent({}, { eTag: '0x8D4BCC2E4835CD0' }), landing);
    expect(parsed.kind === 'commit' && parsed.commit.eTag).to.equal('"0x8D4BCC2E4835CD0"');
  });

  it('parses JSON text, a Buffer and a one-element array alike', () => {
    const event = eventGridEvent();
    for (const message of [JSON.stringify(event), Buffer.from(JSON.stringify(event)), [event]]) {
      expect(parseBlobEvents(message, landing)[0].kind).to.equal('commit');
    }
  });

  it('parses a CloudEvents 1.0 event', () => {
    const { eventType, data, subject, id } = eventGridEvent();
    const cloudEvent = {
      specversion: '1.0',
      type: eventType,
      source: '/x',
      id,
      time: '2026-11-26T10:00:00Z',
      subject,
      data,
    };
    expect(parseBlobEvents(cloudEvent, landing)[0].kind).to.equal('commit');
  });

  it('takes a blob name that is not valid percent-encoding as it stands', () => {
    const event = eventGridEvent({
      subject: `/blobServices/default/containers/${landing}/blobs/100%.jpg`,
    });
    const [parsed] = parseBlobEvents(event, landing);
    expect(parsed.kind === 'commit' && parsed.commit.blobName).to.equal('100%.jpg');
  });

  it('decodes percent-encoded blob names in the subject', () => {
    const event = eventGridEvent({
      subject: `/blobServices/default/containers/${landing}/blobs/a%20b/c.jpg`,
    });
    const [parsed] = parseBlobEvents(event, landing);
    expect(parsed.kind === 'commit' && parsed.commit.blobName).to.equal('a b/c.jpg');
  });

  const ignored: Array<[string, unknown]> = [
    ['another event type', eventGridEvent({ eventType: 'Microsoft.Storage.BlobDeleted' })],
    [
      'another container',
      eventGridEvent({ subject: `/blobServices/default/containers/processed/blobs/${blobName}` }),
    ],
    [
      'a container sharing the prefix',
      eventGridEvent({ subject: `/blobServices/default/containers/${landing}x/blobs/a.jpg` }),
    ],
    ['a PutBlock, which commits nothing', eventGridEvent({}, { api: 'PutBlock' })],
  ];
  for (const [what, event] of ignored) {
    it(`ignores ${what}`, () => {
      expect(parseBlobEvents(event, landing)[0].kind).to.equal('ignored');
    });
  }

  const malformed: Array<[string, unknown]> = [
    ['text that is not JSON', 'not json {'],
    ['a number', 42],
    ['null', null],
    ['an empty array', []],
    ['an event without a type', { subject: 'x' }],
    ['a BlobCreated without data', eventGridEvent({ data: undefined })],
    ['a negative content length', eventGridEvent({}, { contentLength: -1 })],
    ['a missing eTag', eventGridEvent({}, { eTag: undefined })],
    [
      'a subject without a blob name',
      eventGridEvent({ subject: `/blobServices/default/containers/${landing}/blobs/` }),
    ],
  ];
  for (const [what, message] of malformed) {
    it(`reports ${what} as malformed without throwing`, () => {
      expect(parseBlobEvents(message, landing)[0].kind).to.equal('malformed');
    });
  }
});
