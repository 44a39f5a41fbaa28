/** Writes the converted document as YAML people can read and review. */
import { Document, isMap, isScalar, isSeq, visit } from 'yaml';
import type { VipdYaml } from './output.js';

/**
 * Short lists of plain values (VIPs, argv) and backend entries go on one
 * line each; everything else is block style.
 */
export function emitYaml(document: VipdYaml, headerLines: readonly string[]): string {
  // No anchors: a script shared by two instances is written out twice, as people would.
  const doc = new Document(document, { aliasDuplicateObjects: false });
  visit(doc, {
    Seq(_key, node) {
      if (node.items.every((item) => isScalar(item))) node.flow = true;
    },
    Pair(_key, pair) {
      if (isScalar(pair.key) && pair.key.value === 'backends' && isSeq(pair.value)) {
        for (const item of pair.value.items) if (isMap(item)) item.flow = true;
      }
    },
  });
  doc.commentBefore = headerLines.map((line) => ` ${line}`).join('\n');
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}
