/**
 * docs/events.md and receiver/README.md say what the receiver does: their event examples are
 * the test fixtures and each passes the receiver's checks, their field table is the
 * receiver's OUTCOME_DATA_FIELDS (the schema in the design, until the server's module
 * exists to compare against), and every TypeScript snippet type-checks against the real
 * package, with `./outcomes.js` standing for the reader's own code.
 */
import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { OUTCOME_DATA_FIELDS, OUTCOME_EVENT_TYPES } from '../../receiver/src/index';
import { toOutcomeEvent } from '../../receiver/src/validate';
import { EVERY_KIND } from '../helpers/outcome-events';

const REPO = resolve(__dirname, '../..');
const DOCS = ['docs/events.md', 'receiver/README.md'];

function fencedBlocks(markdown: string, language: string): string[] {
  const pattern = new RegExp('^( *)```' + language + '\\n([\\s\\S]*?)^\\1```$', 'gm');
  return [...markdown.matchAll(pattern)].map(([, indent, body]) =>
    body
      .split('\n')
      .map((line) => line.slice(indent.length))
      .join('\n'),
  );
}

describe('receiver: the docs match the code', function () {
  let events: string;
  before(async function () {
    events = await readFile(join(REPO, 'docs/events.md'), 'utf8');
  });

  it('docs/events.md shows one example of each type, each exactly a fixture and valid', function () {
    const examples = [
      ...events.matchAll(/^#### `(directdrop\.upload\.\w+)`\n\n```json\n([\s\S]*?)^```$/gm),
    ];
    expect(examples.map(([, type]) => type)).to.deep.equal([...OUTCOME_EVENT_TYPES]);
    examples.forEach(([, , json], index) => {
      const example: unknown = JSON.parse(json);
      expect(example).to.deep.equal(EVERY_KIND[index]());
      expect(() => toOutcomeEvent(example)).not.to.throw();
    });
  });

  it("docs/events.md's field table is the receiver's field list, per type", function () {
    const table = events.slice(events.indexOf('### `data` fields'), events.indexOf('### Examples'));
    const rows = [...table.matchAll(/^\| `(\w+)` +\|([^|]+)\|([^|]+)\|([^|]+)\|([^|]+)\|/gm)];
    const documented = Object.fromEntries(
      OUTCOME_EVENT_TYPES.map((type, column) => {
        const cell = (row: RegExpMatchArray) => row[column + 2].trim();
        return [
          type,
          {
            required: rows.filter((r) => cell(r) === 'yes').map((r) => r[1]),
            optional: rows.filter((r) => cell(r) === 'optional').map((r) => r[1]),
          },
        ];
      }),
    );
    const sorted = (fields: { required: readonly string[]; optional: readonly string[] }) => ({
      required: [...fields.required].sort(),
      optional: [...fields.optional].sort(),
    });
    for (const type of OUTCOME_EVENT_TYPES) {
      expect(sorted(documented[type]), type).to.deep.equal(sorted(OUTCOME_DATA_FIELDS[type]));
    }
  });

  it('every TypeScript snippet type-checks against the package', async function () {
    this.timeout(60_000);
    // Inside the repository (in its ignored .local folder), so the packages resolve as for a reader.
    await mkdir(join(REPO, '.local'), { recursive: true });
    const folder = await mkdtemp(join(REPO, '.local', 'doc-snippets-'));
    try {
      await writeFile(join(folder, 'package.json'), '{ "type": "module" }\n');
      await writeFile(
        join(folder, 'outcomes.ts'),
        "import type { UploadOutcomeEvent } from '@directdrop/receiver';\n" +
          'export async function recordOutcome(event: UploadOutcomeEvent): Promise<void> {\n  void event;\n}\n',
      );
      await writeFile(
        join(folder, 'entra-delivery.ts'),
        "export * from '../../examples/backend/entra-delivery.js';\n",
      );
      const files: string[] = [];
      for (const doc of DOCS) {
        const blocks = fencedBlocks(await readFile(join(REPO, doc), 'utf8'), 'ts');
        expect(blocks.length, doc).to.be.greaterThan(0);
        for (const [index, block] of blocks.entries()) {
          const file = join(folder, `${doc.replace(/\W/g, '-')}-${index}.ts`);
          await writeFile(file, block);
          files.push(file);
        }
      }
      const program = ts.createProgram(files, {
        strict: true,
        noEmit: true,
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        types: ['node'],
        skipLibCheck: true,
      });
      const problems = ts
        .getPreEmitDiagnostics(program)
        .map(
          (d) =>
            `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
        );
      expect(problems).to.deep.equal([]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
