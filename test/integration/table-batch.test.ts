/**
 * Entity-group transactions written as the `$batch` request itself, against Azurite's real
 * Table service: atomic, conditional, each operation's ETag back, refusals as the SDK's.
 */
import { RestError, TableClient } from '@azure/data-tables';
import { expect } from 'chai';
import { TableBatches } from '../../functions/adapters/table-batch';
import { type AzuriteSandbox, startAzuriteSandbox } from '../../local/azurite-sandbox';

describe('table-batch (against Azurite tables)', function () {
  this.timeout(60_000);
  let storage: AzuriteSandbox;
  let table: TableClient;
  let batches: TableBatches;
  before(async () => {
    storage = await startAzuriteSandbox();
    table = TableClient.fromConnectionString(storage.azurite.connectionString, 'batchtest', {
      allowInsecureConnection: true,
    });
    await table.createTable();
    batches = new TableBatches(table);
  });
  after(() => storage.stop());

  async function refusal(work: Promise<unknown>): Promise<RestError> {
    try {
      await work;
    } catch (error) {
      expect(error).to.be.instanceOf(RestError);
      return error as RestError;
    }
    throw new Error('the transaction was accepted');
  }

  it('writes every operation, returning the ETag each entity now has', async () => {
    const etags = await batches.submit([
      { kind: 'create', entity: { partitionKey: 'a', rowKey: 'one', text: 'é ✓ "quoted"' } },
      { kind: 'upsert', entity: { partitionKey: 'a', rowKey: 'two', text: '2' } },
    ]);
    const [one, two] = await Promise.all([
      table.getEntity('a', 'one'),
      table.getEntity('a', 'two'),
    ]);
    expect(one.text).to.equal('é ✓ "quoted"');
    expect(etags).to.deep.equal([one.etag, two.etag]);
    const replaced = await batches.submit([
      {
        kind: 'replace',
        entity: { partitionKey: 'a', rowKey: 'one', text: 'new' },
        etag: one.etag,
      },
      { kind: 'delete', partitionKey: 'a', rowKey: 'two' },
    ]);
    expect((await table.getEntity('a', 'one')).etag).to.equal(replaced[0]);
    expect(await table.getEntity('a', 'two').catch((e: RestError) => e.statusCode)).to.equal(404);
  });

  it('a stale ETag refuses the whole transaction with 412, naming the operation', async () => {
    await table.createEntity({ partitionKey: 'b', rowKey: 'x', text: '1' });
    const { etag } = await table.getEntity('b', 'x');
    await table.updateEntity({ partitionKey: 'b', rowKey: 'x', text: '2' }, 'Replace');
    const error = await refusal(
      batches.submit([
        { kind: 'create', entity: { partitionKey: 'b', rowKey: 'y', text: 'new' } },
        { kind: 'replace', entity: { partitionKey: 'b', rowKey: 'x', text: '3' }, etag },
      ]),
    );
    expect(error.statusCode).to.equal(412);
    expect(error.code).to.equal('UpdateConditionNotSatisfied');
    expect(error.message).to.match(/^1:/);
    expect(await table.getEntity('b', 'y').catch((e: RestError) => e.statusCode)).to.equal(404);
    expect((await table.getEntity('b', 'x')).text).to.equal('2');
  });

  it('creating an entity that exists refuses with 409; replacing or deleting one that does not, 404', async () => {
    await table.createEntity({ partitionKey: 'c', rowKey: 'x', text: '1' });
    const exists = await refusal(
      batches.submit([{ kind: 'create', entity: { partitionKey: 'c', rowKey: 'x', text: '2' } }]),
    );
    expect(exists.statusCode).to.equal(409);
    expect(exists.code).to.equal('EntityAlreadyExists');
    const gone = await refusal(
      batches.submit([
        { kind: 'replace', entity: { partitionKey: 'c', rowKey: 'none', text: '1' }, etag: '*' },
      ]),
    );
    expect(gone.statusCode).to.equal(404);
    const deleted = await refusal(
      batches.submit([{ kind: 'delete', partitionKey: 'c', rowKey: 'none' }]),
    );
    expect(deleted.statusCode).to.equal(404);
  });

  it('refuses keys outside its safe set before sending anything', async () => {
    for (const rowKey of ["it's", 'a b', 'a&b', 'a?b', 'a/b', '']) {
      let caught: unknown;
      try {
        await batches.submit([
          { kind: 'upsert', entity: { partitionKey: 'd', rowKey, text: 'x' } },
        ]);
      } catch (error) {
        caught = error;
      }
      expect(caught, JSON.stringify(rowKey)).to.be.instanceOf(TypeError);
    }
  });
});
