/**
 * Builds keepalived's statement tree from source lines. A statement is the
 * words of one line; `{` (at the end of it or alone on the next line)
 * opens its block, `}` closes it. Iterative, so no input can exhaust the
 * stack, and brace mistakes become diagnostics rather than exceptions.
 */
import type { DiagnosticLog, SourcePosition } from './diagnostics.js';
import type { SourceLine } from './source.js';

export interface Statement extends SourcePosition {
  readonly keyword: string;
  readonly args: string[];
  /** Present when the statement has a `{ ... }` block, possibly empty. */
  children?: Statement[];
}

interface Frame {
  readonly owner: Statement | undefined;
  readonly children: Statement[];
}

export function parseStatements(lines: readonly SourceLine[], log: DiagnosticLog): Statement[] {
  const root: Statement[] = [];
  const stack: Frame[] = [{ owner: undefined, children: root }];
  const top = (): Frame => stack[stack.length - 1] ?? { owner: undefined, children: root };

  for (const { file, line, words } of lines) {
    let current: Statement | undefined;
    for (const word of words) {
      if (!word.quoted && word.text === '{') {
        // `keyword {`, or `{` alone under `keyword` on the line before.
        const siblings = top().children;
        const owner = current ?? siblings[siblings.length - 1];
        if (owner && !owner.children) {
          owner.children = [];
          stack.push({ owner, children: owner.children });
        } else {
          log.dropped({ file, line }, '{', 'block without a keyword; its contents are ignored');
          stack.push({ owner: undefined, children: [] });
        }
        current = undefined;
      } else if (!word.quoted && word.text === '}') {
        current = undefined;
        if (stack.length > 1) stack.pop();
        else log.dropped({ file, line }, '}', 'no block is open here');
      } else if (current) {
        current.args.push(word.text);
      } else {
        current = { file, line, keyword: word.text, args: [] };
        top().children.push(current);
      }
    }
  }
  // One report for the outermost unclosed block: the inner ones follow from it.
  const unclosed = stack.slice(1).find((frame) => frame.owner)?.owner;
  if (unclosed) {
    const more = stack.length > 2 ? ` (${stack.length - 1} blocks are open at the end)` : '';
    log.dropped(unclosed, unclosed.keyword, `block is never closed with "}"${more}; read to the end of the file`);
  }
  return root;
}
