/**
 * SECURITY.md cannot go stale silently: every statement in its tested sections cites a test as
 * `file` › "name", and every cited file exists with a describe or it of exactly that name.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

/** Sections that state no behaviour of their own: how to report, what is protected, what is not yet tested or not attempted. */
const UNCITED_SECTIONS = ['Reporting a vulnerability', 'Assets', 'Planned: stated but not yet tested', 'Out of scope'];
const CITATION = /`(test\/[^`]+\.ts)` › "([^"]+)"/g;

interface Statement {
  readonly section: string;
  readonly text: string;
}

/** The bullet points of the document, each with its continuation lines and the ## section it is in. */
function statements(markdown: string): Statement[] {
  const found: Statement[] = [];
  let section = '';
  for (const line of markdown.split('\n')) {
    if (line.startsWith('## ')) section = line.slice(3).trim();
    if (line.startsWith('- ')) found.push({ section, text: line });
    else if (line.startsWith('  ') && found.length > 0 && line.trim() !== '') found[found.length - 1] = { section, text: `${found.at(-1)!.text} ${line.trim()}` };
  }
  return found;
}

/** True when `source` has a describe, it or test titled exactly `name`, in any quote style. */
function hasTest(source: string, name: string): boolean {
  const unescaped = source.replace(/\\(['"`])/g, '$1');
  const literal = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`\\b(?:describe|it|test)\\(\\s*(['"\`])${literal}\\1`).test(unescaped);
}

describe('SECURITY.md', () => {
  const markdown = readFileSync('SECURITY.md', 'utf8');
  const all = statements(markdown);

  it('has the sections of a threat model', () => {
    for (const heading of ['## Reporting a vulnerability', '## Assets', '## Actors and what they may do', '### An anonymous client', '### An authenticated user', '### A business server', '### An operator', '## Trust boundaries', '## Planned: stated but not yet tested']) {
      assert.ok(markdown.includes(heading), `no "${heading}"`);
    }
  });

  it('cites at least one test for every statement outside the uncited sections', () => {
    const tested = all.filter(({ section }) => !UNCITED_SECTIONS.includes(section));
    assert.ok(tested.length >= 20, `only ${tested.length} statements found`);
    for (const { section, text } of tested) assert.match(text, new RegExp(CITATION.source), `a statement in "${section}" cites no test: ${text.slice(0, 120)}`);
  });

  it('cites only test files and test names that exist', () => {
    const citations = [...markdown.matchAll(CITATION)].map(([, file, name]) => ({ file: file!, name: name! }));
    assert.ok(citations.length >= 40, `only ${citations.length} citations found`);
    const missing = citations.filter(({ file, name }) => !existsSync(file) || !hasTest(readFileSync(file, 'utf8'), name));
    assert.deepEqual(missing, []);
  });

  it('catches a citation of a test that does not exist (the check above can fail)', () => {
    const source = readFileSync('test/security/claims.test.ts', 'utf8');
    assert.ok(hasTest(source, 'cites only test files and test names that exist'));
    assert.ok(!hasTest(source, 'cites only test files and test names that exis'));
    assert.ok(!hasTest(source, 'a test nobody wrote'));
  });
});
